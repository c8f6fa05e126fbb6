/** POST /v1/uploads (embedded mode): the raw image bytes in the body; answers 201 with the upload id. */
import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { ApiError } from "./errors/index.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { randomId } from "../services/inversions/inversion-service.js";
import { MAX_UPLOAD_BYTES, storeUpload, UPLOAD_CONTENT_TYPES, UploadRejectedError, type UploadContentType } from "../services/uploads/upload-service.js";

export const uploadSchema = z
  .object({
    id: z.string().openapi({ example: "upl_0c1d2e3f4a5b6c7d8e9f0a1b" }),
    object: z.literal("upload"),
    content_type: z.enum(UPLOAD_CONTENT_TYPES),
    bytes: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    sha256: z.string(),
  })
  .openapi("Upload");

const imageBody = z.string().openapi({ format: "binary" });

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
  request: { body: { required: true, content: Object.fromEntries(UPLOAD_CONTENT_TYPES.map((t) => [t, { schema: imageBody }])) } },
  responses: {
    201: { description: "The image was stored.", content: { "application/json": { schema: uploadSchema } } },
    ...problemResponses("payload_too_large", "unsupported_media_type", "invalid_input"),
  },
});

export function registerCreateUpload(app: ApiApp, deps: ApiDeps): void {
  app.openapi(createUploadRoute, async (c) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (!(UPLOAD_CONTENT_TYPES as readonly string[]).includes(type ?? "")) {
      throw new ApiError("unsupported_media_type", `Send the image bytes as ${UPLOAD_CONTENT_TYPES.join(", ")}.`);
    }
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const id = (deps.newId ?? randomId)("upl");
    try {
      const upload = await storeUpload(deps.store, principalOf(c).tenantId, id, type as UploadContentType, bytes);
      return c.json(
        { id: upload.id, object: "upload" as const, content_type: upload.contentType, bytes: upload.bytes, width: upload.width, height: upload.height, sha256: upload.sha256 },
        201,
      );
    } catch (error) {
      if (error instanceof UploadRejectedError) throw new ApiError("invalid_input", `Upload refused: ${error.message}.`, { cause: error });
      throw error;
    }
  });
}
