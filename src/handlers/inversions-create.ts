/** POST /v1/inversions: create a job (202), honouring Idempotency-Key. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "./api-env.js";
import { principalOf } from "./api-env.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { jsonBody } from "./middleware/json-body.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { createInversionRequestSchema } from "./schemas/inversion-request.js";
import { inversionSchema } from "./schemas/inversion-resource.js";
import { toApiError } from "./service-errors.js";
import { IDEMPOTENCY_KEY_PATTERN } from "../services/inversions/idempotency.js";
import { describeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const MAX_JSON_BODY_BYTES = 64 * 1024;

export const createInversionRoute = createRoute({
  method: "post",
  path: "/v1/inversions",
  operationId: "createInversion",
  summary: "Start a Textual Inversion job",
  security: BEARER_SECURITY,
  middleware: jsonBody(MAX_JSON_BODY_BYTES),
  request: {
    headers: z.object({
      "idempotency-key": z
        .string()
        .regex(IDEMPOTENCY_KEY_PATTERN)
        .optional()
        .openapi({ description: "Same key and body: the same job. Same key, other body: 409 idempotency_key_reused." }),
    }),
    body: { required: true, content: { "application/json": { schema: createInversionRequestSchema } } },
  },
  responses: {
    202: { description: "The job was accepted (or, for a repeated Idempotency-Key, found).", content: { "application/json": { schema: inversionSchema } } },
    ...problemResponses("validation_failed", "budget_exhausted", "idempotency_key_reused", "payload_too_large", "unsupported_media_type", "invalid_input", "unknown_model", "upload_missing", "invalid_image", "invalid_token", "service_unavailable"),
  },
});

export function registerCreateInversion(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openapi(createInversionRoute, async (c) => {
    const body = c.req.valid("json");
    const { "idempotency-key": idempotencyKey } = c.req.valid("header");
    const { job, created } = await service.create(principalOf(c), body, idempotencyKey).catch(toApiError);
    const resource = await describeJob(deps.store, job.record, nowOf(deps));
    return c.json(resource, 202, {
      location: `/v1/inversions/${job.record.id}`,
      ...(created ? {} : { "idempotent-replayed": "true" }),
    });
  });
}
