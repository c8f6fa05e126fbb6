/** GET /v1/inversions: the caller's jobs, newest first, a page at a time. */
import { createRoute, z } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { inversionListSchema } from "./schemas/inversion-resource.js";
import { summarizeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const listInversionsRoute = createRoute({
  method: "get",
  path: "/v1/inversions",
  operationId: "listInversions",
  summary: "List jobs, newest first",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().max(2048).optional().openapi({ description: "next_cursor of the previous page." }),
    }),
  },
  responses: {
    200: { description: "One page of jobs.", content: { "application/json": { schema: inversionListSchema } } },
    ...problemResponses("validation_failed"),
  },
});

// The Store's cursor is opaque; it travels base64url-encoded so any backend's cursor is URL-safe.
const encodeCursor = (cursor: string) => Buffer.from(cursor, "utf8").toString("base64url");
function decodeCursor(text: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ApiError("validation_failed", "cursor is not one this API issued.");
  return Buffer.from(text, "base64url").toString("utf8");
}

export function registerListInversions(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openapi(listInversionsRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page = await service.list(principalOf(c), limit, cursor === undefined ? undefined : decodeCursor(cursor));
    return c.json(
      { object: "list" as const, data: page.jobs.map((job) => summarizeJob(job.record)), next_cursor: page.cursor === undefined ? null : encodeCursor(page.cursor) },
      200,
    );
  });
}
