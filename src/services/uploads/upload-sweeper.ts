/**
 * Deletes expired uploads (UploadExpiry) that no queued or running job reads: the embedded
 * server's stand-in for the S3 lifecycle rule, run by the recovery sweep loop.
 *
 * Jobs train on their own copies of their uploads (`config.objective.inputs`, written at
 * creation: services/jobs/job-inputs.ts), so they keep no upload alive. Job creation refuses
 * uploads within `jobWindowMs` of expiry, so no create can find (and copy) an upload this pass
 * deletes. Only jobs created before the copies existed read their uploads
 * (`config.objective.images`) in every slice, and for them the protection stays: every job that
 * may still run has an active marker (written before its record); the pass lists the expired
 * uploads first and the markers after, so such a job is seen, and a marker without a record
 * (a create under way) stops the pass from deleting anything. Uploads of unknown age (ids
 * without a time) are never deleted.
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import type { Store } from "../../ports/store/index.js";
import { activeJobIds } from "../jobs/active-jobs.js";
import { isTerminal } from "../jobs/job-record.js";
import { JobStore } from "../jobs/job-store.js";
import { expired, type UploadExpiry } from "./upload-expiry.js";
import { parseUploadKey, UPLOADS_PREFIX, uploadIssuedAt } from "./upload-keys.js";

export interface UploadSweepResult {
  /** Keys deleted. */
  readonly deleted: string[];
  /** Expired keys kept because an active job names them (or a create was under way). */
  readonly kept: string[];
}

export class UploadSweeper {
  private readonly clock: Clock;

  constructor(private readonly deps: { readonly store: Store; readonly expiry: UploadExpiry; readonly clock?: Clock }) {
    this.clock = deps.clock ?? systemClock;
  }

  async sweep(): Promise<UploadSweepResult> {
    const now = this.clock.now();
    const candidates = await this.expiredUploads(now);
    if (candidates.length === 0) return { deleted: [], kept: [] };
    const referenced = await this.keysNamedByActiveJobs();
    if (referenced === undefined) return { deleted: [], kept: candidates };
    const deleted: string[] = [];
    const kept: string[] = [];
    for (const key of candidates) {
      if (referenced.has(key)) {
        kept.push(key);
        continue;
      }
      await this.deps.store.delete(key);
      deleted.push(key);
    }
    return { deleted, kept };
  }

  private async expiredUploads(now: number): Promise<string[]> {
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.list(UPLOADS_PREFIX, cursor === undefined ? {} : { cursor });
      for (const entry of page.entries) {
        const parsed = parseUploadKey(entry.key);
        if (parsed && expired(this.deps.expiry, uploadIssuedAt(parsed.uploadId), now)) keys.push(entry.key);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return keys;
  }

  /** Upload keys read by jobs that may still run (jobs without copies); undefined when a create is under way. */
  private async keysNamedByActiveJobs(): Promise<Set<string> | undefined> {
    const jobs = new JobStore(this.deps.store);
    const keys = new Set<string>();
    for await (const id of activeJobIds(this.deps.store)) {
      const job = await jobs.read(id);
      if (!job) return undefined;
      if (isTerminal(job.record.status)) continue;
      const objective = job.record.config.objective as { images?: unknown; inputs?: unknown } | undefined;
      if (objective?.inputs !== undefined) continue;
      if (Array.isArray(objective?.images)) for (const key of objective.images) if (typeof key === "string") keys.add(key);
    }
    return keys;
  }
}
