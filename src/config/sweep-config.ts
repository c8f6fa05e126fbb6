/**
 * The recovery sweep's settings, parsed once from the environment:
 *
 *   DVAR_SWEEP_INTERVAL_MS         embedded server: ms between sweep passes (default 60000; 0 turns the loop off)
 *   DVAR_SWEEP_START_TIMEOUT_MS    a dispatched slice that took no lease this long after the record's
 *                                  last change is dispatched again (default 600000)
 *   DVAR_SWEEP_MAX_REDISPATCHES    redispatches of one slice before the job fails (default 5)
 *   DVAR_SWEEP_BACKOFF_MS          least wait after a slice's first redispatch; x4 per further one,
 *                                  at most 1 hour (default 60000)
 *   DVAR_UPLOAD_TTL_DAYS           uploads older than this many days that no queued or running job
 *                                  names are deleted by the sweep, and new jobs may name an upload
 *                                  for one day less (default 7, at least 2; 0: uploads never expire)
 *   DVAR_UPLOAD_SWEEP_INTERVAL_MS  embedded server: least ms between two of those upload sweeps, each
 *                                  listing every upload (default 3600000; 0: every pass)
 *
 * A slice's lease (DVAR_SLICE_LEASE_GRACE_MS + DVAR_SLICE_LEASE_TTL_MS, then renewed to
 * renewal + TTL; see services/slices/lease-heartbeat.ts) is written by the slice itself.
 */
import { z } from "zod";
import { DEFAULT_UPLOAD_TTL_DAYS, uploadExpiryOfDays, type UploadExpiry } from "../services/uploads/upload-expiry.js";
import { DEFAULT_RECOVERY_POLICY, type RecoveryPolicy } from "../services/recovery/recovery-policy.js";
import { DEFAULT_UPLOAD_SWEEP_INTERVAL_MS } from "../services/recovery/sweep-loop.js";

export interface SweepConfig {
  /** 0: no loop in the embedded server. */
  readonly intervalMs: number;
  readonly policy: Partial<RecoveryPolicy>;
  /** null: uploads never expire (DVAR_UPLOAD_TTL_DAYS=0). */
  readonly uploadExpiry: UploadExpiry | null;
  /** Least time between upload sweeps in the embedded loop. */
  readonly uploadSweepIntervalMs: number;
}

export class InvalidSweepConfigError extends Error {
  override readonly name = "InvalidSweepConfigError";
}

const ms = z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).optional());

const envSchema = z.object({
  DVAR_SWEEP_INTERVAL_MS: ms,
  DVAR_SWEEP_START_TIMEOUT_MS: ms,
  DVAR_SWEEP_MAX_REDISPATCHES: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(100).optional()),
  DVAR_SWEEP_BACKOFF_MS: ms,
  DVAR_UPLOAD_TTL_DAYS: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().refine((d) => d === 0 || d >= 2, "must be 0 (never expire) or a whole number of days >= 2").optional(),
  ),
  DVAR_UPLOAD_SWEEP_INTERVAL_MS: ms,
});

export function parseSweepConfig(env: Readonly<Record<string, string | undefined>>): SweepConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new InvalidSweepConfigError(`sweep configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  const policy: { -readonly [K in keyof RecoveryPolicy]?: RecoveryPolicy[K] } = {};
  if (e.DVAR_SWEEP_START_TIMEOUT_MS !== undefined) policy.startTimeoutMs = e.DVAR_SWEEP_START_TIMEOUT_MS;
  if (e.DVAR_SWEEP_MAX_REDISPATCHES !== undefined) policy.maxRedispatches = e.DVAR_SWEEP_MAX_REDISPATCHES;
  if (e.DVAR_SWEEP_BACKOFF_MS !== undefined) {
    policy.initialDelayMs = e.DVAR_SWEEP_BACKOFF_MS;
    // The cap (1 hour) never undercuts the first wait.
    if (e.DVAR_SWEEP_BACKOFF_MS > DEFAULT_RECOVERY_POLICY.maxDelayMs) policy.maxDelayMs = e.DVAR_SWEEP_BACKOFF_MS;
  }
  const ttlDays = e.DVAR_UPLOAD_TTL_DAYS ?? DEFAULT_UPLOAD_TTL_DAYS;
  return {
    intervalMs: e.DVAR_SWEEP_INTERVAL_MS ?? 60_000,
    policy,
    uploadExpiry: ttlDays === 0 ? null : uploadExpiryOfDays(ttlDays),
    uploadSweepIntervalMs: e.DVAR_UPLOAD_SWEEP_INTERVAL_MS ?? DEFAULT_UPLOAD_SWEEP_INTERVAL_MS,
  };
}
