/** What a usage record bills: one slice of an inversion, or one generation (POST /v1/generations). */
export const USAGE_KINDS = ["slice", "generation"] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

/**
 * One bounded slice of one job (or one generation), as billed: written once per (job, slice), so
 * a slice that is retried or redelivered is never billed twice.
 */
export interface UsageRecord {
  /** Absent on slice records (the original format): "slice". A generation is billed as slice 0 of its id. */
  readonly kind?: UsageKind;
  readonly tenantId: string;
  /** The API key that created the job; usage is aggregated per key. */
  readonly keyId: string;
  readonly jobId: string;
  /** 0, 1, 2, ... within the job. */
  readonly slice: number;
  /** Optimisation steps the slice ran (a generation: images x sampler steps). */
  readonly steps: number;
  /** Where it ran, e.g. "cpu", "nvidia-h100". */
  readonly device: string;
  /** Wall-clock seconds the slice held the device. */
  readonly seconds: number;
  /** ISO 8601 time the slice finished. */
  readonly recordedAt: string;
}

export class InvalidUsageRecordError extends Error {
  override readonly name = "InvalidUsageRecordError";
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE = /^[a-z0-9._-]{1,40}$/;

export function assertUsageRecord(record: UsageRecord): void {
  const fail = (what: string) => {
    throw new InvalidUsageRecordError(`usage record for job "${record.jobId}" slice ${record.slice}: ${what}`);
  };
  for (const field of ["tenantId", "keyId", "jobId"] as const) {
    if (typeof record[field] !== "string" || !ID.test(record[field])) fail(`${field} must match ${ID.source}`);
  }
  if (record.kind !== undefined && !(USAGE_KINDS as readonly string[]).includes(record.kind)) fail(`kind must be one of ${USAGE_KINDS.join(", ")}`);
  if (!Number.isSafeInteger(record.slice) || record.slice < 0) fail("slice must be an integer >= 0");
  if (!Number.isSafeInteger(record.steps) || record.steps < 0) fail("steps must be an integer >= 0");
  if (typeof record.device !== "string" || !DEVICE.test(record.device)) fail(`device must match ${DEVICE.source}`);
  if (!Number.isFinite(record.seconds) || record.seconds < 0) fail("seconds must be a finite number >= 0");
  if (Number.isNaN(Date.parse(record.recordedAt))) fail("recordedAt must be an ISO 8601 time");
}

export function usageKindOf(record: Pick<UsageRecord, "kind">): UsageKind {
  return record.kind ?? "slice";
}

/** `usage/<tenant>/<key>/<job>/<slice>`: one object per (job, slice), grouped for per-key listing. */
export function usageStoreKey(record: Pick<UsageRecord, "tenantId" | "keyId" | "jobId" | "slice">): string {
  return `usage/${record.tenantId}/${record.keyId}/${record.jobId}/${String(record.slice).padStart(6, "0")}`;
}

export function usagePrefix(tenantId: string, keyId?: string): string {
  return keyId === undefined ? `usage/${tenantId}/` : `usage/${tenantId}/${keyId}/`;
}

export interface UsageTotals {
  /** Inversion slices billed. */
  slices: number;
  /** Generations billed (their steps are images x sampler steps). */
  generations: number;
  steps: number;
  seconds: number;
}

export function zeroUsageTotals(): UsageTotals {
  return { slices: 0, generations: 0, steps: 0, seconds: 0 };
}

/** Adds one billed record to running totals (a generation counts as one, a slice as one). */
export function addUsage(totals: UsageTotals, record: UsageRecord): void {
  if (usageKindOf(record) === "generation") totals.generations += 1;
  else totals.slices += 1;
  totals.steps += record.steps;
  totals.seconds += record.seconds;
}

/** A stored usage record's bytes, validated. */
export function decodeUsageRecord(body: Uint8Array): UsageRecord {
  const record = JSON.parse(new TextDecoder().decode(body)) as UsageRecord;
  assertUsageRecord(record);
  return record;
}
