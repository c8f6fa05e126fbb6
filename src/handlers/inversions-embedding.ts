/** GET /v1/inversions/{id}/embedding?format=diffusers|a1111|a1111-pt: the learned embedding file. */
import { createRoute, z } from "@hono/zod-openapi";
import { A1111_FALLBACK_NAME, a1111EmbeddingName } from "../engine/embeddings/a1111-name.js";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { jobNotFound } from "./inversions-get.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { EMBEDDING_EXTENSIONS, EMBEDDING_FORMATS, EMBEDDING_OUTPUTS, embeddingFormatsOf, type EmbeddingFormat } from "../services/inversions/embedding-formats.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const getEmbeddingRoute = createRoute({
  method: "get",
  path: "/v1/inversions/{id}/embedding",
  operationId: "getInversionEmbedding",
  summary: "Download the learned embedding (safetensors or A1111 .pt)",
  security: BEARER_SECURITY,
  request: {
    params: jobIdParams,
    query: z.object({
      format: z.enum(EMBEDDING_FORMATS).default("diffusers").openapi({
        description:
          "diffusers: learned_embeds.safetensors; a1111: an A1111/kohya embedding (<token>.safetensors); a1111-pt: AUTOMATIC1111's own torch.save embedding (<token>.pt). Jobs finished before a format was added do not have it (409).",
      }),
    }),
  },
  responses: {
    200: { description: "The embedding file.", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    ...problemResponses("validation_failed", "not_found", "conflict"),
  },
});

/**
 * diffusers' fixed name; both A1111 files carry the name written inside them (the one rule,
 * `a1111EmbeddingName`), as A1111 calls an embedding by its file name.
 */
function fileName(format: EmbeddingFormat, config: Record<string, unknown>): string {
  if (format === "diffusers") return "learned_embeds.safetensors";
  const token = (config.objective as { placeholderToken?: unknown } | undefined)?.placeholderToken;
  return `${typeof token === "string" ? a1111EmbeddingName(token) : A1111_FALLBACK_NAME}${EMBEDDING_EXTENSIONS[format]}`;
}

function missingFormat(format: EmbeddingFormat, available: EmbeddingFormat[]): ApiError {
  if (available.length === 0) return new ApiError("conflict", `This job produced no ${format} embedding (a synthetic job has only raw parameters).`);
  return new ApiError("conflict", `This job has no ${format} embedding: it finished before that format was written. It has: ${available.join(", ")}.`);
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
    if (key === undefined) throw missingFormat(format, embeddingFormatsOf(job.record));
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
