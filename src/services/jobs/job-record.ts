/**
 * The job record: one object per job (`jobs/<id>/record.json`), the single source of truth for
 * where a job stands. It is created once (If-None-Match) and every change is an advance with
 * If-Match on the ETag that was read, so two writers can never both move a job. `revision`
 * grows with every write, so every advance changes the bytes (ETags are content hashes).
 */
import { z } from "zod";
import { finalOutcomeSchema } from "../../core/checkpoint/state-metadata.js";
import { storedObject } from "../../core/io/stored-object.js";
import { JOB_ID_PATTERN } from "../../ports/dispatcher/dispatcher.js";
import { webhookSubscriptionSchema } from "../webhooks/events.js";

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "canceled"]);

const id = z.string().regex(JOB_ID_PATTERN);
const isoTime = z.iso.datetime();

/** What the last completed slice measured: kept so a redelivered invocation can repair billing. */
export const sliceReportSchema = storedObject({
  slice: z.number().int().min(0),
  steps: z.number().int().min(0),
  seconds: z.number().min(0),
  device: z.string(),
  finishedAt: isoTime,
});
export type SliceReport = z.infer<typeof sliceReportSchema>;

/**
 * Which invocation runs the current slice, and until when. Written (If-Match) when a slice
 * starts, renewed (If-Match) while it runs (services/slices/lease-heartbeat.ts), cleared by the
 * advance that ends it. A lease past `expiresAt` means the slice died (SIGKILL, lost GPU,
 * sandbox timeout) or stalled: the recovery sweep may dispatch the slice again.
 */
export const sliceLeaseSchema = storedObject({
  slice: z.number().int().min(0),
  /** The holding invocation's attempt id. */
  attempt: z.string(),
  startedAt: isoTime,
  /**
   * When the lease runs out, whoever wrote it last: with a heartbeat, start + grace + TTL at the
   * claim, then last renewal + TTL; without one (`ttlMs` absent: leases written before the
   * heartbeat, or DVAR_SLICE_LEASE_TTL_MS=0), start + slice wall budget + grace.
   */
  expiresAt: isoTime,
  /** The heartbeat's TTL: the holder renews the lease at least every third of it while it runs. */
  ttlMs: z.number().int().min(1).optional(),
  /** The last renewal (absent until the first). */
  renewedAt: isoTime.optional(),
});
export type SliceLease = z.infer<typeof sliceLeaseSchema>;

/** The recovery sweep's bookkeeping: how often it has dispatched `slice` again, last at `at`. */
export const redispatchSchema = storedObject({
  slice: z.number().int().min(0),
  count: z.number().int().min(1),
  at: isoTime,
});
export type Redispatch = z.infer<typeof redispatchSchema>;

/** The checkpoint's final outcome as the record keeps it: each kind's fields, and any a newer version added. */
const [converged, maxSteps, failed] = finalOutcomeSchema.options;
const recordOutcomeSchema = z.discriminatedUnion("kind", [storedObject(converged.shape), storedObject(maxSteps.shape), storedObject(failed.shape)]);

/**
 * Every object in the record keeps fields it does not know (storedObject): a process of an older
 * release reads and advances records a newer one wrote during a rolling deploy, and passes their
 * new fields on. New fields must therefore be optional (docs/STORE.md, "Compatibility").
 */
export const jobRecordSchema = storedObject({
  format: z.literal("dvar-job"),
  formatVersion: z.literal(1),
  id,
  tenantId: id,
  /** The API key that created the job (usage is aggregated per key). */
  keyId: id,
  /** Incremented by every write. */
  revision: z.number().int().min(0),
  status: z.enum(JOB_STATUSES),
  /** The inversion config as validated at creation (parseInversionConfig output). */
  config: z.record(z.string(), z.unknown()),
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The next slice to run (0 before the first). */
  slice: z.number().int().min(0),
  /** Completed optimisation steps. */
  step: z.number().int().min(0),
  /** Store key of the latest durable checkpoint; null before the first slice ends. */
  checkpoint: z.string().nullable(),
  outcome: recordOutcomeSchema.nullable(),
  /** Store keys of the outputs by name, once the job has finished. */
  outputs: z.record(z.string(), z.string()).nullable(),
  lastSlice: sliceReportSchema.nullable(),
  /** Records written before leases existed have neither field. */
  lease: sliceLeaseSchema.nullable().default(null),
  redispatch: redispatchSchema.nullable().default(null),
  error: storedObject({ code: z.string(), message: z.string() }).nullable(),
  webhook: webhookSubscriptionSchema.nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
});

export type JobRecord = z.infer<typeof jobRecordSchema>;

export class InvalidJobRecordError extends Error {
  override readonly name = "InvalidJobRecordError";
}

export function parseJobRecord(input: unknown, jobId: string): JobRecord {
  const result = jobRecordSchema.safeParse(input);
  if (!result.success) throw new InvalidJobRecordError(`job record of "${jobId}" is invalid: ${z.prettifyError(result.error)}`);
  if (result.data.id !== jobId) throw new InvalidJobRecordError(`job record stored for "${jobId}" names job "${result.data.id}"`);
  return result.data;
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}
