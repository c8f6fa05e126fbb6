/**
 * Finding an upload by id. Uploads live at `uploads/<t>/<id>` (upload-keys.ts); an id without a
 * time was issued before the move and may still sit at `tenants/<t>/uploads/<id>`, so for those
 * the old key is the fallback when the new one does not exist. Timed ids only ever lived at the
 * new key.
 */
import type { Store } from "../../ports/store/store.js";
import { legacyUploadKey, uploadIssuedAt, uploadKey } from "./upload-keys.js";

/** The keys an upload may be stored under, in the order to try them. */
export function uploadKeyCandidates(tenantId: string, uploadId: string): string[] {
  const current = uploadKey(tenantId, uploadId);
  return uploadIssuedAt(uploadId) === undefined ? [current, legacyUploadKey(tenantId, uploadId)] : [current];
}

/** The key the upload is stored under, or undefined when it exists under none (one list request per key tried). */
export async function findUploadKey(store: Store, tenantId: string, uploadId: string): Promise<string | undefined> {
  for (const key of uploadKeyCandidates(tenantId, uploadId)) {
    const page = await store.list(key, { limit: 1 });
    if (page.entries[0]?.key === key) return key;
  }
  return undefined;
}

/** The upload's bytes and the key they were read from, or undefined when it exists under none. */
export async function readUpload(store: Store, tenantId: string, uploadId: string): Promise<{ key: string; body: Uint8Array } | undefined> {
  for (const key of uploadKeyCandidates(tenantId, uploadId)) {
    const found = await store.get(key);
    if (found) return { key, body: found.body };
  }
  return undefined;
}
