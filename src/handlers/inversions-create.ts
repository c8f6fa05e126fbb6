/** POST /v1/inversions: create a job (202), honouring Idempotency-Key. */
import { createRoute } from "@hono/zod-openapi";
import type { ApiApp } from "./api-env.js";
import { principalOf } from "./api-env.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { jsonBody } from "./middleware/json-body.js";
import { BEARER_SECURITY, idempotencyHeaders, problemResponses } from "./schemas/common.js";
import { createInversionRequestSchema } from "./schemas/inversion-request.js";
import { inversionSchema } from "./schemas/inversion-resource.js";
import { toApiError } from "./service-errors.js";
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
    headers: idempotencyHeaders,
    body: { required: true, content: { "application/json": { schema: createInversionRequestSchema } } },
  },
  responses: {
    202: { description: "The job was accepted (or, for a repeated Idempotency-Key, found).", content: { "application/json": { schema: inversionSchema } } },
    ...problemResponses("validation_failed", "budget_exhausted", "idempotency_key_reused", "payload_too_large", "unsupported_media_type", "invalid_input", "service_unavailable"),
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
