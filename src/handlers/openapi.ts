/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (the single source of truth),
 * served at GET /openapi.json, and a small self-contained docs page at GET /docs (no CDN: the
 * page fetches /openapi.json and lists the operations).
 */
import type { ApiApp } from "./api-env.js";
import { DOCS_PAGE } from "./docs-page.js";

export const OPENAPI_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "DVAR Textual Inversion API",
    version: "0.1.0",
    description:
      "Textual Inversion jobs with DVAR early stopping, run as bounded, checkpointed slices. Errors are RFC 9457 problem+json with a stable `code`. Authenticate with `Authorization: Bearer sk_...`.",
  },
} as const;

export function registerOpenApi(app: ApiApp): void {
  app.doc31("/openapi.json", OPENAPI_CONFIG);
  app.get("/docs", (c) => c.html(DOCS_PAGE));
}
