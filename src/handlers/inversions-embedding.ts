/** GET /v1/inversions/{id}/embedding?format=diffusers|a1111: the learned embedding file. */
import { createRoute, z } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { jobNotFound } from "./inversions-get.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { EMBEDDING_OUTPUTS, type EmbeddingFormat } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const getEmbeddingRoute = createRoute({
  method: "get",
  path: "/v1/inversions/{id}/embedding",
  operationId: "getInversionEmbedding",
  summary: "Download the learned embedding (safetensors)",
  security: BEARER_SECURITY,
  request: {
    params: jobIdParams,
    query: z.object({
      format: z.enum(["diffusers", "a1111"]).default("diffusers").openapi({ description: "diffusers: learned_embeds.safetensors; a1111: an A1111/kohya embedding." }),
    }),
  },
  responses: {
    200: { description: "The embedding file.", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    ...problemResponses("validation_failed", "not_found", "conflict"),
  },
});

function fileName(format: EmbeddingFormat, config: Record<string, unknown>): string {
  if (format === "diffusers") return "learned_embeds.safetensors";
  const token = String((config.objective as { placeholderToken?: unknown } | undefined)?.placeholderToken ?? "embedding");
  return `${token.replace(/[^A-Za-z0-9._-]+/g, "") || "embedding"}.safetensors`;
}

export function registerGetEmbedding(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openapi(getEmbeddingRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { format } = c.req.valid("query");
    const job = await service.get(principalOf(c), id);
    if (!job) throw jobNotFound(id);
    if (job.record.status !== "succeeded") throw new ApiError("conflict", `The job has not succeeded (it is ${job.record.status}); no embedding yet.`);
    const key = job.record.outputs?.[EMBEDDING_OUTPUTS[format]];
    if (key === undefined) throw new ApiError("conflict", `This job produced no ${format} embedding (a synthetic job has only raw parameters).`);
    const found = await deps.store.get(key);
    if (!found) throw new Error(`output ${key} of job ${id} is missing from the store`);
    return new Response(Buffer.from(found.body), {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${fileName(format, job.record.config)}"`,
        etag: `"${found.etag}"`,
      },
    });
  });
}
