/**
 * Reading, creating and advancing job records on the Store with the fencing pattern of
 * docs/STORE.md: create with If-None-Match, advance with If-Match on the ETag that was read.
 */
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { configHash, parseInversionConfig, type InversionConfigInput } from "../../core/inversion/config.js";
import { parseExact, stringifyExact } from "../../core/io/exact-json.js";
import type { WebhookSubscription } from "../webhooks/events.js";
import { markJobActive } from "./active-jobs.js";
import { parseJobRecord, type JobRecord } from "./job-record.js";

/** A record together with the ETag it was read or written with. */
export interface VersionedJob {
  readonly record: JobRecord;
  readonly etag: string;
}

export function jobPrefix(jobId: string): string {
  return `jobs/${jobId}/`;
}

export function jobRecordKey(jobId: string): string {
  return `jobs/${jobId}/record.json`;
}

export interface NewJob {
  readonly id: string;
  readonly tenantId: string;
  readonly keyId: string;
  readonly config: InversionConfigInput;
  readonly webhook?: WebhookSubscription | null;
  readonly now: Date;
}

/** A queued job at slice 0 with a validated config (throws InvalidConfigError otherwise). */
export function newJobRecord(job: NewJob): JobRecord {
  const config = parseInversionConfig(job.config);
  const at = job.now.toISOString();
  return {
    format: "dvar-job",
    formatVersion: 1,
    id: job.id,
    tenantId: job.tenantId,
    keyId: job.keyId,
    revision: 0,
    status: "queued",
    config: { ...config },
    configHash: configHash(config),
    slice: 0,
    step: 0,
    checkpoint: null,
    outcome: null,
    outputs: null,
    lastSlice: null,
    lease: null,
    redispatch: null,
    error: null,
    webhook: job.webhook ?? null,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    finishedAt: null,
  };
}

function encode(record: JobRecord): Uint8Array {
  return new TextEncoder().encode(stringifyExact(record));
}

export class JobStore {
  constructor(private readonly store: Store) {}

  async read(jobId: string): Promise<VersionedJob | undefined> {
    const found = await this.store.get(jobRecordKey(jobId));
    if (!found) return undefined;
    return { record: parseJobRecord(parseExact(new TextDecoder().decode(found.body)), jobId), etag: found.etag };
  }

  /**
   * Creates the record; PreconditionFailedError if a job with this id exists. The job's
   * active marker is written first, so the recovery sweep knows every record.
   */
  async create(record: JobRecord): Promise<VersionedJob> {
    parseJobRecord(record, record.id);
    await markJobActive(this.store, record.id, new Date(record.createdAt));
    const { etag } = await this.store.put(jobRecordKey(record.id), encode(record), { ifNoneMatch: "*", contentType: "application/json" });
    return { record, etag };
  }

  /**
   * Replaces `current` with `next` if nobody wrote the record since `current` was read; the
   * revision is bumped here. Returns undefined when another writer got there first.
   */
  async advance(current: VersionedJob, next: Omit<JobRecord, "revision">): Promise<VersionedJob | undefined> {
    const record = parseJobRecord({ ...next, revision: current.record.revision + 1 }, current.record.id);
    try {
      const { etag } = await this.store.put(jobRecordKey(record.id), encode(record), { ifMatch: current.etag, contentType: "application/json" });
      return { record, etag };
    } catch (error) {
      if (error instanceof PreconditionFailedError) return undefined;
      throw error;
    }
  }
}
