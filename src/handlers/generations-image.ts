/** GET /v1/generations/{id}/images/{index}: one generated image (PNG). */
import { createRoute, z } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { generationService } from "./generations-create.js";
import { generationNotFound } from "./generations-get.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { generationIdParams } from "./schemas/generation.js";

export const getGenerationImageRoute = createRoute({
  method: "get",
  path: "/v1/generations/{id}/images/{index}",
  operationId: "getGenerationImage",
  summary: "Download one generated image (PNG)",
  security: BEARER_SECURITY,
  request: {
    params: generationIdParams.extend({
      index: z
        .string()
        .regex(/^(0|[1-9][0-9]{0,2})$/)
        .openapi({ param: { name: "index", in: "path" }, example: "0", description: "0-based image index; image i was drawn from seed + i." }),
    }),
  },
  responses: {
    200: { description: "The image.", content: { "image/png": { schema: z.string().openapi({ format: "binary" }) } } },
    ...problemResponses("validation_failed", "not_found", "conflict"),
  },
});

export function registerGetGenerationImage(app: ApiApp, deps: ApiDeps): void {
  const service = generationService(deps);
  app.openapi(getGenerationImageRoute, async (c) => {
    const { id } = c.req.valid("param");
    const index = Number(c.req.valid("param").index);
    const generation = await service.get(principalOf(c), id);
    if (!generation) throw generationNotFound(id);
    const { record } = generation;
    if (record.status !== "succeeded") throw new ApiError("conflict", `The generation has not succeeded (it is ${record.status}); no images.`);
    const image = record.images?.[index];
    if (!image) throw new ApiError("not_found", `The generation has ${record.images?.length ?? 0} images; there is no image ${index}.`);
    const found = await deps.store.get(image.key);
    if (!found) throw new Error(`image ${image.key} of generation ${id} is missing from the store`);
    return new Response(Buffer.from(found.body), {
      status: 200,
      headers: { "content-type": "image/png", etag: `"${found.etag}"`, "cache-control": "private, max-age=31536000, immutable" },
    });
  });
}
