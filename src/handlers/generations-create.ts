/**
 * POST /v1/generations: images from a prompt with a succeeded job's learned token. The embedded
 * server draws them within the request and answers 201 with the finished generation; see
 * GenerationService for how a deployment could run them elsewhere and answer 202.
 */
import { createRoute } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { jsonBody } from "./middleware/request-body.js";
import { BEARER_SECURITY, idempotencyHeaders, problemResponses } from "./schemas/common.js";
import { createGenerationRequestSchema, generationSchema } from "./schemas/generation.js";
import { toApiError } from "./service-errors.js";
import { describeGeneration, GenerationService } from "../services/generations/index.js";

export const MAX_GENERATION_BODY_BYTES = 16 * 1024;

export const createGenerationRoute = createRoute({
  method: "post",
  path: "/v1/generations",
  operationId: "createGeneration",
  summary: "Draw images with a finished job's learned token",
  security: BEARER_SECURITY,
  middleware: jsonBody(MAX_GENERATION_BODY_BYTES),
  request: {
    headers: idempotencyHeaders,
    body: { required: true, content: { "application/json": { schema: createGenerationRequestSchema } } },
  },
  responses: {
    201: {
      description: "The generation, finished (or, for a repeated Idempotency-Key, found). Its images are at `images[].url`.",
      content: { "application/json": { schema: generationSchema } },
    },
    ...problemResponses("validation_failed", "budget_exhausted", "not_found", "conflict", "idempotency_key_reused", "payload_too_large", "unsupported_media_type", "invalid_input"),
  },
});

export function generationService(deps: ApiDeps): GenerationService {
  return new GenerationService({
    store: deps.store,
    ...(deps.models ? { models: deps.models } : {}),
    ...(deps.generator ? { generator: deps.generator } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.newId ? { newId: deps.newId } : {}),
    ...(deps.device ? { device: deps.device } : {}),
  });
}

export function registerCreateGeneration(app: ApiApp, deps: ApiDeps): void {
  const service = generationService(deps);
  app.openapi(createGenerationRoute, async (c) => {
    const body = c.req.valid("json");
    const { "idempotency-key": idempotencyKey } = c.req.valid("header");
    const { generation, created } = await service.submit(principalOf(c), body, idempotencyKey).catch(toApiError);
    // In-request execution; a replay of a request that died before finishing finishes it here.
    const finished = await service.run(generation);
    return c.json(describeGeneration(finished.record), 201, {
      location: `/v1/generations/${finished.record.id}`,
      ...(created ? {} : { "idempotent-replayed": "true" }),
    });
  });
}
