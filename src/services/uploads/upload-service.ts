/**
 * Uploaded training images (embedded mode: the bytes come through the API). An upload is
 * checked before it is stored: its bytes must be the image type it claims to be (so HTML named
 * .png is refused), decodable, and at most MAX_UPLOAD_PIXELS; then it is written create-only
 * under the tenant, `uploads/<t>/<id>` (upload-keys.ts; they expire, upload-expiry.ts).
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import type { Store } from "../../ports/store/index.js";
import { putUpload, type InspectedUpload } from "./inspected-upload.js";
import { MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, sniffImageType, UploadRejectedError, type StoredUpload, type UploadContentType } from "./upload-rules.js";

export { MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, sniffImageType, UPLOAD_CONTENT_TYPES, UploadRejectedError, type StoredUpload, type UploadContentType } from "./upload-rules.js";

const SHARP_FORMAT: Record<UploadContentType, string> = { "image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp" };

/** Checks that `bytes` are a decodable `contentType` image within the limits; stores nothing. */
export async function inspectUpload(contentType: UploadContentType, bytes: Uint8Array): Promise<InspectedUpload> {
  if (bytes.length === 0) throw new UploadRejectedError("the upload is empty");
  if (bytes.length > MAX_UPLOAD_BYTES) throw new UploadRejectedError(`the upload has ${bytes.length} bytes; at most ${MAX_UPLOAD_BYTES} are accepted`);
  const sniffed = sniffImageType(bytes);
  if (sniffed !== contentType) throw new UploadRejectedError(`the bytes are ${sniffed ? `a ${sniffed} image` : "not a PNG, JPEG or WebP image"}, not ${contentType}`);
  let width: number;
  let height: number;
  try {
    // The header alone (no pixel limit on it, so the refusal can name the size), then the pixel
    // count, then a full decode with sharp's own limit as a second guard.
    const meta = await sharp(bytes, { limitInputPixels: false, failOn: "error" }).metadata();
    if (meta.format !== SHARP_FORMAT[contentType]) throw new UploadRejectedError(`the image decodes as ${meta.format}, not ${contentType}`);
    width = meta.width ?? 0;
    height = meta.height ?? 0;
    if (width * height > MAX_UPLOAD_PIXELS) throw new UploadRejectedError(`the image has ${width}x${height} pixels; at most ${MAX_UPLOAD_PIXELS} are accepted`);
    await sharp(bytes, { limitInputPixels: MAX_UPLOAD_PIXELS, failOn: "error" }).stats(); // decodes every pixel: a truncated or corrupt file fails here
  } catch (error) {
    if (error instanceof UploadRejectedError) throw error;
    throw new UploadRejectedError(`the image cannot be decoded (${(error as Error).message.split("\n")[0]})`);
  }
  return { contentType, bytes, width, height, sha256: createHash("sha256").update(bytes).digest("hex") };
}

export async function storeUpload(store: Store, tenantId: string, id: string, contentType: UploadContentType, bytes: Uint8Array): Promise<StoredUpload> {
  return putUpload(store, tenantId, id, await inspectUpload(contentType, bytes));
}
