/** POST /v1/inversions/{id}/cancel: stops a queued or running job (the running slice loses its race). */
import { createRoute } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { jobNotFound } from "./inversions-get.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { inversionSummarySchema } from "./schemas/inversion-resource.js";
import { toApiError } from "./service-errors.js";
import { summarizeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const cancelInversionRoute = createRoute({
  method: "post",
  path: "/v1/inversions/{id}/cancel",
  operationId: "cancelInversion",
  summary: "Cancel a job",
  security: BEARER_SECURITY,
  request: { params: jobIdParams },
  responses: {
    200: { description: "The job, canceled (also when it already was).", content: { "application/json": { schema: inversionSummarySchema } } },
    ...problemResponses("validation_failed", "not_found", "conflict"),
  },
});

export function registerCancelInversion(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openapi(cancelInversionRoute, async (c) => {
    const { id } = c.req.valid("param");
    const job = await service.cancel(principalOf(c), id).catch(toApiError);
    if (!job) throw jobNotFound(id);
    return c.json(summarizeJob(job.record), 200);
  });
}
