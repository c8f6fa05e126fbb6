/**
 * Deletes expired uploads (UploadExpiry) that no queued or running job reads: the embedded
 * server's stand-in for the S3 lifecycle rule, run by the recovery sweep loop.
 *
 * Jobs train on their own copies of their uploads (`config.objective.inputs`, written at
 * creation: services/jobs/job-inputs.ts), so they keep no upload alive. Job creation refuses
 * uploads within `jobWindowMs` of expiry, so no create can find (and copy) an upload this pass
 * deletes: that is what keeps jobs safe from this sweep.
 *
 * The check of active jobs below is for one narrow set of records only: those created between
 * the commit that moved uploads to `uploads/<t>/` with expiry (9a95c8b) and the one that gave
 * jobs their copies (81894c0). They have no `inputs` and read `uploads/<t>/…` keys in every
 * slice, so an expired upload one of them names is kept while it is queued or running. Records
 * from before the move name `tenants/<t>/uploads/…` keys, which this sweep never lists; records
 * from after read their copies. A marker without a record is a create under way (or dead): it
 * writes copies, never such a record, so it does not hold the sweep back. Uploads of unknown age
 * (ids without a time) are never deleted.
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import type { Store } from "../../ports/store/index.js";
import { listAll } from "../../ports/store/list-all.js";
import { activeJobIds } from "../jobs/active-jobs.js";
import { isTerminal } from "../jobs/job-record.js";
import { JobStore } from "../jobs/job-store.js";
import { expired, type UploadExpiry } from "./upload-expiry.js";
import { parseUploadKey, UPLOADS_PREFIX, uploadIssuedAt } from "./upload-keys.js";

export interface UploadSweepResult {
  /** Keys deleted. */
  readonly deleted: string[];
  /** Expired keys kept because a queued or running job without copies names them. */
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
    for await (const entry of listAll(this.deps.store, UPLOADS_PREFIX)) {
      const parsed = parseUploadKey(entry.key);
      if (parsed && expired(this.deps.expiry, uploadIssuedAt(parsed.uploadId), now)) keys.push(entry.key);
    }
    return keys;
  }

  /** Upload keys read by jobs that may still run (the records without copies described above). */
  private async keysNamedByActiveJobs(): Promise<Set<string>> {
    const jobs = new JobStore(this.deps.store);
    const keys = new Set<string>();
    for await (const id of activeJobIds(this.deps.store)) {
      const job = await jobs.read(id);
      if (!job || isTerminal(job.record.status)) continue;
      const objective = job.record.config.objective as { images?: unknown; inputs?: unknown } | undefined;
      if (objective?.inputs !== undefined) continue;
      if (Array.isArray(objective?.images)) for (const key of objective.images) if (typeof key === "string") keys.add(key);
    }
    return keys;
  }
}
