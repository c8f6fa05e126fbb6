/**
 * A tenant's jobs, newest first. Job records live at `jobs/<id>/record.json` (where the slice
 * workers find them); each job also gets an empty marker `tenants/<t>/jobs/<inverted ms>-<id>`,
 * whose key sorts newest first in the Store's ascending listing.
 */
import type { Store } from "../../ports/store/index.js";

const MAX_MS = 9_999_999_999_999;

export function jobIndexPrefix(tenantId: string): string {
  return `tenants/${tenantId}/jobs/`;
}

export function jobIndexKey(tenantId: string, createdAtMs: number, jobId: string): string {
  return `${jobIndexPrefix(tenantId)}${String(MAX_MS - createdAtMs).padStart(13, "0")}-${jobId}`;
}

/** Writes the marker; writing it again (a retried create) is harmless. */
export async function indexJob(store: Store, tenantId: string, createdAtMs: number, jobId: string): Promise<void> {
  await store.put(jobIndexKey(tenantId, createdAtMs, jobId), new Uint8Array(0), { contentType: "application/octet-stream" });
}

export interface JobIdPage {
  readonly ids: string[];
  readonly cursor?: string;
}

/** One page of job ids, newest first; `cursor` is the Store's, passed back unchanged. */
export async function listJobIds(store: Store, tenantId: string, limit: number, cursor?: string): Promise<JobIdPage> {
  const prefix = jobIndexPrefix(tenantId);
  const page = await store.list(prefix, { limit, ...(cursor === undefined ? {} : { cursor }) });
  const ids = page.entries.map((entry) => entry.key.slice(prefix.length + 14));
  return page.cursor === undefined ? { ids } : { ids, cursor: page.cursor };
}
