/**
 * POST /v1/inversions: create a job (202), honouring Idempotency-Key. The body is JSON (images
 * named by upload id) or multipart/form-data (a `config` JSON part and the image files, stored
 * as uploads once every check has passed; see inversions-form.ts). Both are validated here, not
 * by @hono/zod-openapi, whose validators cannot choose between two content types of one body.
 */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ApiApp } from "./api-env.js";
import { principalOf } from "./api-env.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { readInversionForm, MAX_MULTIPART_BODY_BYTES } from "./inversions-form.js";
import { requestBody } from "./middleware/request-body.js";
import { BEARER_SECURITY, idempotencyHeaders, problemResponses } from "./schemas/common.js";
import { createInversionRequestSchema, MAX_INPUT_IMAGES, MIN_INPUT_IMAGES, textualInversionUploadConfigSchema, type CreateInversionRequest } from "./schemas/inversion-request.js";
import { inversionSchema } from "./schemas/inversion-resource.js";
import { toApiError } from "./service-errors.js";
import { ApiError, validationFailed, validationIssues } from "./errors/index.js";
import { describeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";
import { UPLOAD_CONTENT_TYPES } from "../services/uploads/upload-rules.js";

export const MAX_JSON_BODY_BYTES = 64 * 1024;

const REQUEST_COMPONENT = "CreateInversionRequest";
const UPLOAD_CONFIG_COMPONENT = "TextualInversionUploadConfig";

/** The multipart body as documented (parsed by readInversionForm, not by a zod validator). */
const multipartBody = {
  schema: {
    type: "object" as const,
    required: ["config", "images"],
    properties: {
      config: { $ref: `#/components/schemas/${UPLOAD_CONFIG_COMPONENT}` },
      images: {
        type: "array" as const,
        minItems: MIN_INPUT_IMAGES,
        maxItems: MAX_INPUT_IMAGES,
        items: { type: "string" as const, format: "binary" },
        description: `One part per training image (PNG, JPEG or WebP; each at most 10 MB and 25 megapixels). The whole body is limited to ${MAX_MULTIPART_BODY_BYTES} bytes.`,
      },
    },
  },
  encoding: { config: { contentType: "application/json" }, images: { contentType: UPLOAD_CONTENT_TYPES.join(", ") } },
};

export const createInversionRoute = createRoute({
  method: "post",
  path: "/v1/inversions",
  operationId: "createInversion",
  summary: "Start a Textual Inversion job",
  security: BEARER_SECURITY,
  middleware: requestBody({ "application/json": MAX_JSON_BODY_BYTES, "multipart/form-data": MAX_MULTIPART_BODY_BYTES }),
  request: {
    headers: idempotencyHeaders,
    body: {
      required: true,
      description: "JSON with image upload ids, or multipart/form-data with the images themselves (textual_inversion only).",
      content: {
        "application/json": { schema: { $ref: `#/components/schemas/${REQUEST_COMPONENT}` } },
        "multipart/form-data": multipartBody,
      },
    },
  },
  responses: {
    202: { description: "The job was accepted (or, for a repeated Idempotency-Key, found).", content: { "application/json": { schema: inversionSchema } } },
    ...problemResponses("bad_request", "validation_failed", "budget_exhausted", "idempotency_key_reused", "payload_too_large", "unsupported_media_type", "invalid_input", "unknown_model", "upload_missing", "invalid_image", "invalid_token", "service_unavailable"),
  },
});

async function readJsonRequest(c: Context): Promise<CreateInversionRequest> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (error) {
    throw new ApiError("bad_request", "The body is not valid JSON.", { cause: error });
  }
  const parsed = createInversionRequestSchema.safeParse(body);
  if (!parsed.success) throw validationFailed("json", validationIssues("json", parsed.error));
  return parsed.data;
}

export function registerCreateInversion(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  app.openAPIRegistry.register(REQUEST_COMPONENT, createInversionRequestSchema);
  app.openAPIRegistry.register(UPLOAD_CONFIG_COMPONENT, textualInversionUploadConfigSchema);
  app.openapi(createInversionRoute, async (c) => {
    const { "idempotency-key": idempotencyKey } = c.req.valid("header");
    const principal = principalOf(c);
    const multipart = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() === "multipart/form-data";
    if (multipart && !deps.inspectUpload) {
      throw new ApiError("unsupported_media_type", "This deployment cannot check image files: POST them to /v1/uploads (or presigned URLs) and send JSON with their ids.");
    }
    const { job, created } = multipart
      ? await readInversionForm(c, deps.inspectUpload!).then(({ config, images }) => service.createWithImages(principal, config, images, idempotencyKey)).catch(toApiError)
      : await service.create(principal, await readJsonRequest(c), idempotencyKey).catch(toApiError);
    const resource = await describeJob(deps.store, job.record, nowOf(deps));
    return c.json(resource, 202, {
      location: `/v1/inversions/${job.record.id}`,
      ...(created ? {} : { "idempotent-replayed": "true" }),
    });
  });
}
