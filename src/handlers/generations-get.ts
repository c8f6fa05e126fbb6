/** GET /v1/generations/{id}: a generation of the caller's tenant. */
import { createRoute } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { generationService } from "./generations-create.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { generationIdParams, generationSchema } from "./schemas/generation.js";
import { describeGeneration } from "../services/generations/index.js";

export const getGenerationRoute = createRoute({
  method: "get",
  path: "/v1/generations/{id}",
  operationId: "getGeneration",
  summary: "Get a generation",
  security: BEARER_SECURITY,
  request: { params: generationIdParams },
  responses: {
    200: { description: "The generation.", content: { "application/json": { schema: generationSchema } } },
    ...problemResponses("validation_failed", "not_found"),
  },
});

export function generationNotFound(id: string): ApiError {
  return new ApiError("not_found", `No generation "${id}".`);
}

export function registerGetGeneration(app: ApiApp, deps: ApiDeps): void {
  const service = generationService(deps);
  app.openapi(getGenerationRoute, async (c) => {
    const { id } = c.req.valid("param");
    const generation = await service.get(principalOf(c), id);
    if (!generation) throw generationNotFound(id);
    return c.json(describeGeneration(generation.record), 200, { etag: `"${generation.etag}"` });
  });
}
