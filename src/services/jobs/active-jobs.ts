/**
 * Markers of jobs that may still need work, `active-jobs/<id>`, so the recovery sweep finds
 * them without listing every object of every job. A marker is written before the job record
 * (every record has one) and removed by the sweep once the record is terminal. A marker whose
 * record never appeared (a create that died in between) is removed once it is old enough that
 * no create can still be under way; its body holds the time it was written.
 */
import { listAll } from "../../ports/store/list-all.js";
import type { Store } from "../../ports/store/index.js";

export const ACTIVE_JOBS_PREFIX = "active-jobs/";

export function activeJobKey(jobId: string): string {
  return `${ACTIVE_JOBS_PREFIX}${jobId}`;
}

/** Writes (or rewrites, harmlessly) the job's marker. */
export async function markJobActive(store: Store, jobId: string, at: Date): Promise<void> {
  const body = new TextEncoder().encode(JSON.stringify({ markedAt: at.toISOString() }));
  await store.put(activeJobKey(jobId), body, { contentType: "application/json" });
}

export async function clearJobActive(store: Store, jobId: string): Promise<void> {
  await store.delete(activeJobKey(jobId));
}

/** When the marker was written (ms since the epoch), or undefined if it is gone or unreadable. */
export async function jobMarkedAt(store: Store, jobId: string): Promise<number | undefined> {
  const found = await store.get(activeJobKey(jobId));
  if (!found) return undefined;
  try {
    const at = Date.parse((JSON.parse(new TextDecoder().decode(found.body)) as { markedAt?: string }).markedAt ?? "");
    return Number.isNaN(at) ? undefined : at;
  } catch {
    return undefined;
  }
}

/** Every marked job id, in key order, all pages. */
export async function* activeJobIds(store: Store): AsyncGenerator<string> {
  for await (const entry of listAll(store, ACTIVE_JOBS_PREFIX)) {
    const id = entry.key.slice(ACTIVE_JOBS_PREFIX.length);
    if (id !== "" && !id.includes("/")) yield id;
  }
}
