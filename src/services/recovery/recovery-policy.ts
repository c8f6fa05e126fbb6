/**
 * When a job's current slice counts as dead, and what the recovery sweep does about it: a pure
 * function of the job record, the time and the policy, so every case is testable with a fake
 * clock.
 *
 * A slice is dead when
 *   - its lease has expired (it started, then died: SIGKILL, lost GPU, sandbox timeout), or
 *   - no lease for it was taken within `startTimeoutMs` of the record's last change (its
 *     dispatch was lost, or it died before starting).
 * A dead slice is dispatched again; the k-th redispatch of one slice waits at least
 * `initialDelayMs * multiplier^(k-1)` (capped at `maxDelayMs`) after the previous one. After
 * `maxRedispatches` the job fails with `slice_retries_exhausted`.
 */
import { isTerminal, type JobRecord } from "../jobs/job-record.js";
import { retryDelayMs } from "../webhooks/backoff.js";

export interface RecoveryPolicy {
  /** How long a dispatched slice may take to start (take its lease) before it is dispatched again. */
  readonly startTimeoutMs: number;
  /** Redispatches of one slice before the job fails. */
  readonly maxRedispatches: number;
  /** Least wait after the first redispatch of a slice before the next one. */
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
}

/**
 * 10 minutes to start (a Modal sandbox is usually scheduled in seconds, an in-process slice may
 * queue behind others: those are not counted, see JobSweeper); 5 redispatches, 1, 4, 16, 60,
 * 60 minutes apart at least, on top of the lease expiry.
 */
export const DEFAULT_RECOVERY_POLICY: RecoveryPolicy = {
  startTimeoutMs: 10 * 60 * 1000,
  maxRedispatches: 5,
  initialDelayMs: 60 * 1000,
  multiplier: 4,
  maxDelayMs: 60 * 60 * 1000,
};

export const SLICE_RETRIES_EXHAUSTED = "slice_retries_exhausted";

export class InvalidRecoveryPolicyError extends Error {
  override readonly name = "InvalidRecoveryPolicyError";
}

export function assertRecoveryPolicy(policy: RecoveryPolicy): void {
  const ok =
    Number.isInteger(policy.maxRedispatches) &&
    policy.maxRedispatches >= 0 &&
    policy.startTimeoutMs >= 0 &&
    policy.initialDelayMs >= 0 &&
    policy.multiplier >= 1 &&
    policy.maxDelayMs >= policy.initialDelayMs;
  if (!ok) throw new InvalidRecoveryPolicyError(`invalid recovery policy: ${JSON.stringify(policy)}`);
}

export type RecoveryDecision =
  /** Finished, canceled or failed: nothing to recover (its active marker can go). */
  | { readonly kind: "terminal" }
  /** The slice may still be alive (lease not expired, or not yet late to start), or the backoff has not passed: look again at `dueAt`. */
  | { readonly kind: "wait"; readonly slice: number; readonly dueAt: number; readonly leased: boolean }
  /** Dispatch `slice` again; it would be redispatch number `count` of this slice. */
  | { readonly kind: "redispatch"; readonly slice: number; readonly count: number }
  /** The slice died `redispatches` + 1 times: fail the job. */
  | { readonly kind: "fail"; readonly slice: number; readonly redispatches: number };

/** Redispatches of the job's current slice so far. */
export function redispatchesOf(job: JobRecord): number {
  return job.redispatch !== null && job.redispatch.slice === job.slice ? job.redispatch.count : 0;
}

export function decideRecovery(job: JobRecord, now: number, policy: RecoveryPolicy): RecoveryDecision {
  if (isTerminal(job.status)) return { kind: "terminal" };
  const slice = job.slice;
  const lease = job.lease !== null && job.lease.slice === slice ? job.lease : null;
  const deadAt = lease !== null ? Date.parse(lease.expiresAt) : Date.parse(job.updatedAt) + policy.startTimeoutMs;
  const count = redispatchesOf(job);
  const backoffUntil =
    count === 0
      ? -Infinity
      : Date.parse(job.redispatch!.at) +
        retryDelayMs(count, 0, { maxAttempts: policy.maxRedispatches + 1, initialDelayMs: policy.initialDelayMs, multiplier: policy.multiplier, maxDelayMs: policy.maxDelayMs, jitter: 0 });
  const dueAt = Math.max(deadAt, backoffUntil);
  if (now < dueAt) return { kind: "wait", slice, dueAt, leased: lease !== null && now < deadAt };
  if (count >= policy.maxRedispatches) return { kind: "fail", slice, redispatches: count };
  return { kind: "redispatch", slice, count: count + 1 };
}
