import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Principal } from "../services/auth/index.js";
import type { AuthEnv } from "./middleware/require-api-key.js";

/** The app every route registers on: `/v1/*` runs behind requireApiKey. */
export type ApiApp = OpenAPIHono<AuthEnv>;

export function principalOf(c: Context<AuthEnv>): Principal {
  return c.get("principal");
}
