/** When to try again: exponential backoff, capped, with jitter from an injected source. */
export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  readonly maxAttempts: number;
  /** Delay before the first retry, before jitter. */
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
  /** Fraction of each delay that is random: the delay is d * (1 - jitter * u), u in [0, 1). */
  readonly jitter: number;
}

/**
 * 8 attempts over about four hours: 5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 2 h (before
 * jitter), a compressed form of the Standard Webhooks schedule that one process can keep.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  initialDelayMs: 5_000,
  multiplier: 4,
  maxDelayMs: 2 * 60 * 60 * 1000,
  jitter: 0.5,
};

export class InvalidRetryPolicyError extends Error {
  override readonly name = "InvalidRetryPolicyError";
}

export function assertRetryPolicy(policy: RetryPolicy): void {
  const ok =
    Number.isInteger(policy.maxAttempts) &&
    policy.maxAttempts >= 1 &&
    policy.initialDelayMs >= 0 &&
    policy.multiplier >= 1 &&
    policy.maxDelayMs >= policy.initialDelayMs &&
    policy.jitter >= 0 &&
    policy.jitter <= 1;
  if (!ok) throw new InvalidRetryPolicyError(`invalid webhook retry policy: ${JSON.stringify(policy)}`);
}

/** The wait before retry number `retry` (1 = the first retry); `u` is a uniform draw in [0, 1). */
export function retryDelayMs(retry: number, u: number, policy: RetryPolicy): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (retry - 1));
  return Math.round(base * (1 - policy.jitter * u));
}
