/**
 * Where uploads live and what their ids say. Uploads sit under one top-level prefix,
 * `uploads/<tenant>/<upload id>`, so one S3 lifecycle rule can expire them (rules match a literal
 * key prefix; `tenants/<t>/uploads/` could not be selected for every tenant at once).
 *
 * New ids carry the time they were issued, `upl_t<ms since epoch, base36, 9 chars><20 hex>`, so
 * the embedded sweep and job creation know an upload's age without object metadata (the Store
 * port has none). Other ids (earlier random hex ids, ids injected by tests) have no known age.
 */
export const UPLOADS_PREFIX = "uploads/";

export function uploadKey(tenantId: string, uploadId: string): string {
  return `${UPLOADS_PREFIX}${tenantId}/${uploadId}`;
}

/**
 * Where uploads lived before they moved under `uploads/` (upload-lookup.ts still finds them
 * there). Only ids without a time were issued then; no sweep or lifecycle rule expires them.
 */
export function legacyUploadKey(tenantId: string, uploadId: string): string {
  return `tenants/${tenantId}/uploads/${uploadId}`;
}

/** The (tenant, id) of an upload key, or undefined for any other key. */
export function parseUploadKey(key: string): { tenantId: string; uploadId: string } | undefined {
  const match = /^uploads\/([^/]+)\/([^/]+)$/.exec(key);
  return match ? { tenantId: match[1]!, uploadId: match[2]! } : undefined;
}

const TIMED_ID = /^upl_t([0-9a-z]{9})[0-9a-f]{20}$/;

/** A fresh upload id issued at `nowMs`. */
export function newUploadId(nowMs: number): string {
  const random = crypto.getRandomValues(new Uint8Array(10));
  return `upl_t${Math.floor(nowMs).toString(36).padStart(9, "0")}${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** When the upload id was issued (ms since the epoch), or undefined when the id does not say. */
export function uploadIssuedAt(uploadId: string): number | undefined {
  const match = TIMED_ID.exec(uploadId);
  return match ? parseInt(match[1]!, 36) : undefined;
}
