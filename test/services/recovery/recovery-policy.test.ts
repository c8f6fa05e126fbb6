/** decideRecovery: when a job's current slice counts as dead, with times as plain numbers. */
import { describe, expect, it } from "vitest";
import { newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import { assertRecoveryPolicy, decideRecovery, DEFAULT_RECOVERY_POLICY, InvalidRecoveryPolicyError, type RecoveryPolicy } from "../../../src/services/recovery/index.js";
import { syntheticConfig } from "../slices/harness.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;
const policy: RecoveryPolicy = { startTimeoutMs: 10 * MIN, maxRedispatches: 3, initialDelayMs: MIN, multiplier: 4, maxDelayMs: 60 * MIN };

function job(overrides: Partial<JobRecord> = {}): JobRecord {
  return { ...newJobRecord({ id: "job1", tenantId: "t", keyId: "k", config: syntheticConfig(), now: new Date(T0) }), ...overrides };
}

/** A running job at `slice` whose slice took a lease at `startedAt` lasting `ms`. */
function leased(slice: number, startedAt: number, ms: number, extra: Partial<JobRecord> = {}): JobRecord {
  return job({ status: "running", slice, updatedAt: iso(startedAt), lease: { slice, attempt: "a", startedAt: iso(startedAt), expiresAt: iso(startedAt + ms) }, ...extra });
}

describe("decideRecovery", () => {
  it("leaves finished, failed and canceled jobs alone", () => {
    for (const status of ["succeeded", "failed", "canceled"] as const) expect(decideRecovery(job({ status }), T0 + 1e9, policy)).toEqual({ kind: "terminal" });
  });

  it("waits while the slice's lease lasts, then dispatches the same slice again", () => {
    const record = leased(4, T0, 15 * MIN);
    expect(decideRecovery(record, T0 + 15 * MIN - 1, policy)).toEqual({ kind: "wait", slice: 4, dueAt: T0 + 15 * MIN, leased: true });
    expect(decideRecovery(record, T0 + 15 * MIN, policy)).toEqual({ kind: "redispatch", slice: 4, count: 1 });
  });

  it("a slice that never took its lease (lost dispatch, queued job) is late once the start timeout has passed since the last change", () => {
    const queued = job();
    expect(decideRecovery(queued, T0 + 10 * MIN - 1, policy)).toEqual({ kind: "wait", slice: 0, dueAt: T0 + 10 * MIN, leased: false });
    expect(decideRecovery(queued, T0 + 10 * MIN, policy)).toEqual({ kind: "redispatch", slice: 0, count: 1 });
    // A lease left from an earlier slice says nothing about the current one.
    const advanced = job({ status: "running", slice: 3, updatedAt: iso(T0), lease: { slice: 2, attempt: "a", startedAt: iso(T0), expiresAt: iso(T0 + 99 * MIN) } });
    expect(decideRecovery(advanced, T0 + 10 * MIN, policy)).toEqual({ kind: "redispatch", slice: 3, count: 1 });
  });

  it("backs off exponentially between redispatches of one slice, then fails the job", () => {
    // Redispatch k was recorded at `at` (clearing the lease); the slice is dead again at once
    // (start timeout 0), so only the backoff holds the next one: 1, 4, then 16 minutes.
    const fast = { ...policy, startTimeoutMs: 0 };
    const after = (count: number, at: number) => job({ status: "running", slice: 2, updatedAt: iso(at), redispatch: { slice: 2, count, at: iso(at) } });
    expect(decideRecovery(after(1, T0), T0 + MIN - 1, fast)).toMatchObject({ kind: "wait", dueAt: T0 + MIN });
    expect(decideRecovery(after(1, T0), T0 + MIN, fast)).toEqual({ kind: "redispatch", slice: 2, count: 2 });
    expect(decideRecovery(after(2, T0), T0 + 4 * MIN - 1, fast)).toMatchObject({ kind: "wait", dueAt: T0 + 4 * MIN });
    expect(decideRecovery(after(2, T0), T0 + 4 * MIN, fast)).toEqual({ kind: "redispatch", slice: 2, count: 3 });
    expect(decideRecovery(after(3, T0), T0 + 16 * MIN - 1, fast)).toMatchObject({ kind: "wait", dueAt: T0 + 16 * MIN });
    expect(decideRecovery(after(3, T0), T0 + 16 * MIN, fast)).toEqual({ kind: "fail", slice: 2, redispatches: 3 });
    // The cap: the 5th wait would be 256 minutes, capped at 60.
    expect(decideRecovery(after(5, T0), T0, { ...fast, maxRedispatches: 9 })).toMatchObject({ kind: "wait", dueAt: T0 + 60 * MIN });
  });

  it("the later of lease expiry and backoff decides; redispatches of an earlier slice do not count", () => {
    const record = leased(2, T0, 15 * MIN, { redispatch: { slice: 2, count: 2, at: iso(T0 - MIN) } });
    // Backoff after 2 redispatches: 4 minutes from T0 - 1 min; the lease lasts longer.
    expect(decideRecovery(record, T0 + 15 * MIN - 1, policy)).toMatchObject({ kind: "wait", leased: true, dueAt: T0 + 15 * MIN });
    expect(decideRecovery(record, T0 + 15 * MIN, policy)).toEqual({ kind: "redispatch", slice: 2, count: 3 });
    const older = leased(5, T0, MIN, { redispatch: { slice: 4, count: 3, at: iso(T0) } });
    expect(decideRecovery(older, T0 + MIN, policy)).toEqual({ kind: "redispatch", slice: 5, count: 1 });
  });

  it("with no redispatches allowed, the first dead slice fails the job", () => {
    expect(decideRecovery(leased(0, T0, MIN), T0 + MIN, { ...policy, maxRedispatches: 0 })).toEqual({ kind: "fail", slice: 0, redispatches: 0 });
  });
});

describe("assertRecoveryPolicy", () => {
  it("accepts the default and refuses nonsense", () => {
    expect(() => assertRecoveryPolicy(DEFAULT_RECOVERY_POLICY)).not.toThrow();
    for (const bad of [{ maxRedispatches: -1 }, { maxRedispatches: 1.5 }, { multiplier: 0.5 }, { initialDelayMs: 10, maxDelayMs: 5 }, { startTimeoutMs: -1 }]) {
      expect(() => assertRecoveryPolicy({ ...DEFAULT_RECOVERY_POLICY, ...bad })).toThrow(InvalidRecoveryPolicyError);
    }
  });
});
