/** GET /v1/inversions/{id}: status, step, downsampled histories, DVAR ratio, timings, usage, error. */
import { createRoute } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { inversionSchema } from "./schemas/inversion-resource.js";
import { describeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

export const getInversionRoute = createRoute({
  method: "get",
  path: "/v1/inversions/{id}",
  operationId: "getInversion",
  summary: "Get a job",
  security: BEARER_SECURITY,
  request: { params: jobIdParams },
  responses: {
    200: { description: "The job.", content: { "application/json": { schema: inversionSchema } } },
    ...problemResponses("validation_failed", "not_found"),
  },
});

export function jobNotFound(id: string): ApiError {
  return new ApiError("not_found", `No inversion "${id}".`);
}

export function registerGetInversion(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openapi(getInversionRoute, async (c) => {
    const { id } = c.req.valid("param");
    const job = await service.get(principalOf(c), id);
    if (!job) throw jobNotFound(id);
    const resource = await describeJob(deps.store, job.record, nowOf(deps));
    // The record's ETag, qualified by the step when the running slice's progress was merged in.
    const etag = resource.step === job.record.step ? job.etag : `${job.etag}.${resource.step}`;
    return c.json(resource, 200, { etag: `"${etag}"` });
  });
}
