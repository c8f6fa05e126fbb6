/**
 * What an upload may be, without decoding it: types, sizes, magic numbers. Pure, so the
 * control plane (and the Workers bundle) can use it; decoding with sharp is upload-service.ts.
 */
import type { Store } from "../../ports/store/store.js";

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

/** The type the leading bytes announce (magic numbers), or undefined. */
export function sniffImageType(bytes: Uint8Array): UploadContentType | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP") return "image/webp";
  return undefined;
}

/** Checks an upload's bytes and stores them (upload-service.ts's storeUpload decodes with sharp). */
export type UploadStorer = (store: Store, tenantId: string, id: string, contentType: UploadContentType, bytes: Uint8Array) => Promise<StoredUpload>;
