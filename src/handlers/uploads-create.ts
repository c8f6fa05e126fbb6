/**
 * POST /v1/uploads. Embedded mode: the raw image bytes are the body, checked and stored; 201
 * with the upload id. S3 mode (a presigner is configured) also accepts a JSON body
 * `{"content_type": ...}` and answers a presigned PUT URL for a new upload id; the client PUTs
 * the bytes there before naming the id in POST /v1/inversions (the objective decodes them).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { principalOf, type ApiApp } from "./api-env.js";
import { nowOf, type ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { newUploadId, uploadKey } from "../services/uploads/upload-keys.js";
import { MAX_UPLOAD_BYTES, UPLOAD_CONTENT_TYPES, UploadRejectedError, type UploadContentType } from "../services/uploads/upload-rules.js";

export const uploadSchema = z
  .object({
    id: z.string().openapi({ example: "upl_t0mm6zh1c00c1d2e3f4a5b6c7d8e9f", description: "Carries the time it was issued; uploads expire (7 days by default)." }),
    object: z.literal("upload"),
    content_type: z.enum(UPLOAD_CONTENT_TYPES),
    bytes: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    sha256: z.string(),
  })
  .openapi("Upload");

const imageBody = z.string().openapi({ format: "binary" });

export const PRESIGNED_URL_TTL_SECONDS = 15 * 60;

export const presignRequestSchema = z.strictObject({ content_type: z.enum(UPLOAD_CONTENT_TYPES) }).openapi("PresignedUploadRequest");

export const presignedUploadSchema = z
  .object({
    id: z.string(),
    object: z.literal("upload"),
    status: z.literal("pending"),
    upload_url: z.string().openapi({ description: "PUT the image bytes here, with exactly `upload_headers`." }),
    upload_method: z.literal("PUT"),
    upload_headers: z.record(z.string(), z.string()),
    expires_at: z.string(),
  })
  .openapi("PresignedUpload");

export const createUploadRoute = createRoute({
  method: "post",
  path: "/v1/uploads",
  operationId: "createUpload",
  summary: "Upload one training image (PNG, JPEG or WebP bytes as the body)",
  security: BEARER_SECURITY,
  middleware: [
    bodyLimit({
      maxSize: MAX_UPLOAD_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `Uploads are limited to ${MAX_UPLOAD_BYTES} bytes.`);
      },
    }),
  ],
  request: {
    body: {
      // Not "required": @hono/zod-openapi would then run the JSON validator on image bodies too.
      // An empty body is refused by the handler.
      required: false,
      content: {
        ...Object.fromEntries(UPLOAD_CONTENT_TYPES.map((t) => [t, { schema: imageBody }])),
        "application/json": { schema: presignRequestSchema },
      },
    },
  },
  responses: {
    201: {
      description: "The image was stored (bytes), or a presigned PUT URL was issued (JSON, S3 mode).",
      content: { "application/json": { schema: z.union([uploadSchema, presignedUploadSchema]) } },
    },
    ...problemResponses("payload_too_large", "unsupported_media_type", "invalid_input", "invalid_image", "not_available_on_edge"),
  },
});

export function registerCreateUpload(app: ApiApp, deps: ApiDeps): void {
  app.openapi(createUploadRoute, async (c) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type === "application/json") {
      const { content_type } = c.req.valid("json");
      if (!deps.presignUpload) throw new ApiError("invalid_input", "Presigned uploads need the S3 store; send the image bytes as the body instead.");
      const id = deps.newId ? deps.newId("upl") : newUploadId(nowOf(deps).getTime());
      const signed = await deps.presignUpload(uploadKey(principalOf(c).tenantId, id), content_type, PRESIGNED_URL_TTL_SECONDS);
      return c.json(
        {
          id,
          object: "upload" as const,
          status: "pending" as const,
          upload_url: signed.url,
          upload_method: "PUT" as const,
          upload_headers: signed.headers,
          expires_at: new Date(nowOf(deps).getTime() + PRESIGNED_URL_TTL_SECONDS * 1000).toISOString(),
        },
        201,
      );
    }
    if (!(UPLOAD_CONTENT_TYPES as readonly string[]).includes(type ?? "")) {
      throw new ApiError("unsupported_media_type", `Send the image bytes as ${UPLOAD_CONTENT_TYPES.join(", ")} (or JSON for a presigned URL).`);
    }
    if (!deps.storeUpload) throw new ApiError("not_available_on_edge", "This deployment takes uploads as presigned PUTs only: POST JSON {\"content_type\": ...} instead of the bytes.");
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const id = deps.newId ? deps.newId("upl") : newUploadId(nowOf(deps).getTime());
    try {
      const upload = await deps.storeUpload(deps.store, principalOf(c).tenantId, id, type as UploadContentType, bytes);
      return c.json(
        { id: upload.id, object: "upload" as const, content_type: upload.contentType, bytes: upload.bytes, width: upload.width, height: upload.height, sha256: upload.sha256 },
        201,
      );
    } catch (error) {
      if (error instanceof UploadRejectedError) throw new ApiError("invalid_image", `Upload refused: ${error.message}.`, { cause: error });
      throw error;
    }
  });
}
