/**
 * An image already checked (upload-service.ts's inspectUpload decodes it with sharp) and not yet
 * stored, and the write that stores it. Free of sharp, so the job service and the multipart form
 * handler can use it in a deployment that injects (or lacks) the checker.
 */
import type { Store } from "../../ports/store/store.js";
import { uploadKey } from "./upload-keys.js";
import type { StoredUpload, UploadContentType } from "./upload-rules.js";

export interface InspectedUpload {
  readonly contentType: UploadContentType;
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly sha256: string;
}

/** Checks that `bytes` are a decodable `contentType` image within the limits (UploadRejectedError otherwise); stores nothing. */
export type UploadInspector = (contentType: UploadContentType, bytes: Uint8Array) => Promise<InspectedUpload>;

/** Writes an inspected image as upload `id` of the tenant, create-only. */
export async function putUpload(store: Store, tenantId: string, id: string, upload: InspectedUpload): Promise<StoredUpload> {
  await store.put(uploadKey(tenantId, id), upload.bytes, { ifNoneMatch: "*", contentType: upload.contentType });
  return { id, contentType: upload.contentType, bytes: upload.bytes.length, width: upload.width, height: upload.height, sha256: upload.sha256 };
}
