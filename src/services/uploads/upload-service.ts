/**
 * Uploaded training images (embedded mode: the bytes come through the API). An upload is
 * checked before it is stored: its bytes must be the image type it claims to be (so HTML named
 * .png is refused), decodable, and at most MAX_UPLOAD_PIXELS; then it is written create-only
 * under the tenant, `tenants/<t>/uploads/<id>`.
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import type { Store } from "../../ports/store/index.js";
import { uploadKey } from "./upload-keys.js";

export const UPLOAD_CONTENT_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
export type UploadContentType = (typeof UPLOAD_CONTENT_TYPES)[number];
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const MAX_UPLOAD_PIXELS = 25_000_000;

export class UploadRejectedError extends Error {
  override readonly name = "UploadRejectedError";
}

export interface StoredUpload {
  readonly id: string;
  readonly contentType: UploadContentType;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly sha256: string;
}

const SHARP_FORMAT: Record<UploadContentType, string> = { "image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp" };

/** The type the leading bytes announce (magic numbers), or undefined. */
export function sniffImageType(bytes: Uint8Array): UploadContentType | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP") return "image/webp";
  return undefined;
}

export async function storeUpload(store: Store, tenantId: string, id: string, contentType: UploadContentType, bytes: Uint8Array): Promise<StoredUpload> {
  if (bytes.length === 0) throw new UploadRejectedError("the upload is empty");
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
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  await store.put(uploadKey(tenantId, id), bytes, { ifNoneMatch: "*", contentType });
  return { id, contentType, bytes: bytes.length, width, height, sha256 };
}
