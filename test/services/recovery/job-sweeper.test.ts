/**
 * JobSweeper with the real slice service on MemoryStore and a fake clock: slices that die after
 * taking their lease (an objective that never returns) are dispatched again once the lease has
 * expired, the job then finishes bit-identical to an uninterrupted run; attempts are bounded; a
 * live lease is never touched; duplicates are not counted; one bad job does not stop a pass.
 */
import { describe, expect, it, vi } from "vitest";
import { decodeCheckpoint } from "../../../src/core/checkpoint/index.js";
import { parseInversionConfig } from "../../../src/core/inversion/config.js";
import { runSlice } from "../../../src/core/inversion/run-slice.js";
import { createInitialState } from "../../../src/core/inversion/state.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../../src/core/synthetic/objective.js";
import type { DispatchReceipt, SliceInvocation } from "../../../src/ports/dispatcher/index.js";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { activeJobKey, JobStore, jobRecordKey, markJobActive, newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import { JobSweeper, SLICE_RETRIES_EXHAUSTED, type RecoveryPolicy } from "../../../src/services/recovery/index.js";
import { defaultObjectives, StoreSliceService, type ObjectiveFactory } from "../../../src/services/slices/index.js";
import { allKeys, ObservedStore, RecordingDispatcher, RecordingEvents, syntheticConfig } from "../slices/harness.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const MIN = 60_000;
/**
 * A claimed lease = 1 minute of start-up grace + the heartbeat's default TTL (1 minute); a slice
 * that dies before its first renewal (the `dying` objective) loses it 2 minutes after it started.
 */
const BUDGET = { maxSteps: 5, maxWallMs: MIN };
const POLICY: Partial<RecoveryPolicy> = { startTimeoutMs: 10 * MIN, maxRedispatches: 2, initialDelayMs: MIN, multiplier: 4 };

class FakeClock {
  constructor(public t = T0) {}
  now = () => this.t;
  sleep = async () => {};
}

/** An objective that takes its lease and never finishes a step: a slice that died. */
const dying: ObjectiveFactory = async (config, jobId) => {
  const prepared = await defaultObjectives()(config, jobId);
  return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient: () => new Promise<never>(() => {}) } };
};

function setup(store: Store = new MemoryStore()) {
  const clock = new FakeClock();
  const dispatcher = new RecordingDispatcher();
  const events = new RecordingEvents();
  const slices = (objectives: ObjectiveFactory = defaultObjectives()) =>
    new StoreSliceService({ store, dispatcher, objectives, budget: BUDGET, device: "cpu", events, clock, monotonic: () => 0, leaseGraceMs: MIN });
  const sweeper = new JobSweeper({ store, dispatcher, events, clock, policy: POLICY });
  const jobs = new JobStore(store);
  const read = async (id = "job1") => (await jobs.read(id))!.record;
  /** Starts slice `slice` with a dying objective and waits until it holds the lease. */
  const crash = async (slice: number, id = "job1") => {
    void slices(dying).run({ jobId: id, slice });
    await vi.waitFor(async () => expect((await read(id)).lease?.slice).toBe(slice));
  };
  return { store, clock, dispatcher, events, slices, sweeper, jobs, read, crash };
}

async function createJob(store: Store, id = "job1", at = T0): Promise<JobRecord> {
  const record = newJobRecord({ id, tenantId: "tenant1", keyId: "key1", config: syntheticConfig(), now: new Date(at) });
  await new JobStore(store).create(record);
  return record;
}

async function uninterruptedParams(): Promise<Float32Array> {
  const parsed = parseInversionConfig(syntheticConfig());
  const objective = createSyntheticObjective(parsed.seed, syntheticSettingsFrom(parsed.objective));
  return (await runSlice(createInitialState(parsed, objective.initialParams()), { objective, budget: {}, clock: () => 0 })).state.params;
}

describe("JobSweeper", () => {
  it("dispatches a slice that died again once its lease expired; the job then ends as if nothing happened", async () => {
    const s = setup();
    await createJob(s.store);
    await s.slices().run({ jobId: "job1", slice: 0 });
    await s.crash(1);
    const crashed = await s.read();
    expect(crashed.lease).toMatchObject({ slice: 1, expiresAt: new Date(T0 + 2 * MIN).toISOString() });

    s.dispatcher.calls.length = 0;
    s.clock.t = T0 + 2 * MIN - 1;
    expect(await s.sweeper.sweep()).toMatchObject({ checked: 1, redispatched: [], nextDueAt: T0 + 2 * MIN });
    expect(await s.read()).toEqual(crashed);

    s.clock.t = T0 + 2 * MIN;
    const pass = await s.sweeper.sweep();
    expect(pass.redispatched).toEqual([{ jobId: "job1", slice: 1, duplicate: false }]);
    expect(s.dispatcher.calls).toEqual([{ jobId: "job1", slice: 1 }]);
    expect(await s.read()).toMatchObject({ status: "running", slice: 1, lease: null, redispatch: { slice: 1, count: 1, at: new Date(T0 + 2 * MIN).toISOString() } });
    // Right after, nothing is due (the redispatched slice has the start timeout to take its lease).
    expect((await s.sweeper.sweep()).redispatched).toEqual([]);

    // The redispatched invocation resumes from the last checkpoint; the job ends bit-identical.
    expect((await s.slices().run({ jobId: "job1", slice: 1 })).kind).toBe("advanced");
    expect((await s.slices().run({ jobId: "job1", slice: 2 })).kind).toBe("advanced");
    const done = await s.read();
    expect(done).toMatchObject({ status: "succeeded", step: 12, redispatch: null, lease: null });
    const state = decodeCheckpoint((await s.store.get(done.checkpoint!))!.body);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from((await uninterruptedParams()).buffer))).toBe(true);
    expect(s.events.events.map((e) => e[1])).toEqual(["inversion.started", "inversion.succeeded"]);

    // Finished: the next pass forgets the job.
    expect(await s.store.get(activeJobKey("job1"))).toBeDefined();
    expect(await s.sweeper.sweep()).toMatchObject({ checked: 1, cleared: 1 });
    expect(await allKeys(s.store, "active-jobs/")).toEqual([]);
  });

  it("a slice whose heartbeat stops is dispatched again one TTL after its last renewal, not after its budget", async () => {
    const s = setup();
    await createJob(s.store);
    // An hour of wall budget and 5 minutes of grace: without the heartbeat, 65 minutes to notice.
    // Steps take 30 s (fake); the third never ends.
    const stalling: ObjectiveFactory = async (config, jobId) => {
      const prepared = await defaultObjectives()(config, jobId);
      const inner = prepared.objective;
      const trainLossAndGradient = async (step: number, params: Float32Array) => {
        if (step === 2) return new Promise<never>(() => {});
        s.clock.t += 30_000;
        return inner.trainLossAndGradient(step, params);
      };
      return { ...prepared, objective: { ...inner, trainLossAndGradient } };
    };
    const slices = new StoreSliceService({ store: s.store, dispatcher: s.dispatcher, objectives: stalling, budget: { maxSteps: 5, maxWallMs: 60 * MIN }, device: "cpu", clock: s.clock, monotonic: () => 0, leaseGraceMs: 5 * MIN, leaseTtlMs: MIN });
    void slices.run({ jobId: "job1", slice: 0 });
    // Renewed after step 0 (30 s) and step 1 (60 s); the claim's lease (grace + TTL) is gone.
    await vi.waitFor(async () => expect((await s.read()).lease).toMatchObject({ renewedAt: new Date(T0 + MIN).toISOString(), expiresAt: new Date(T0 + 2 * MIN).toISOString() }));
    const stalled = await s.read();

    s.clock.t = T0 + 2 * MIN - 1;
    expect(await s.sweeper.sweep()).toMatchObject({ redispatched: [], nextDueAt: T0 + 2 * MIN });
    expect(await s.read()).toEqual(stalled);
    s.clock.t = T0 + 2 * MIN;
    expect((await s.sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: false }]);
    expect(await s.read()).toMatchObject({ status: "running", slice: 0, step: 0, lease: null, redispatch: { slice: 0, count: 1 } });

    // The redispatched slice starts over from the job's start; the job ends bit-identical.
    for (let slice = 0; slice < 3; slice++) expect((await s.slices().run({ jobId: "job1", slice })).kind).toBe("advanced");
    const done = await s.read();
    expect(done).toMatchObject({ status: "succeeded", step: 12 });
    const state = decodeCheckpoint((await s.store.get(done.checkpoint!))!.body);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from((await uninterruptedParams()).buffer))).toBe(true);
  });

  it("a lease written before the heartbeat (no ttlMs) still decides by its budget + grace expiry", async () => {
    const s = setup();
    await createJob(s.store);
    const created = (await s.jobs.read("job1"))!;
    const old = { slice: 0, attempt: "old", startedAt: new Date(T0).toISOString(), expiresAt: new Date(T0 + 15 * MIN).toISOString() };
    await s.jobs.advance(created, { ...created.record, status: "running", lease: old });
    s.clock.t = T0 + 15 * MIN - 1;
    expect(await s.sweeper.sweep()).toMatchObject({ redispatched: [], nextDueAt: T0 + 15 * MIN });
    s.clock.t = T0 + 15 * MIN;
    expect((await s.sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: false }]);
  });

  it("fails the job with slice_retries_exhausted after the allowed redispatches, backing off between them", async () => {
    const s = setup();
    await createJob(s.store);
    await s.slices().run({ jobId: "job1", slice: 0 });
    s.dispatcher.calls.length = 0;
    const redispatchedAt: number[] = [];
    for (let death = 0; death < 3; death++) {
      await s.crash(1);
      // Sweep every 30 s (fake) until the sweeper acts.
      for (;;) {
        s.clock.t += 30_000;
        const pass = await s.sweeper.sweep();
        if (pass.redispatched.length > 0) {
          redispatchedAt.push(s.clock.t);
          break;
        }
        if (pass.failed.length > 0) break;
      }
    }
    // Lease expiry (2 min after each start) decides the first two; the backoff (4 min after the
    // second redispatch) the failure.
    expect(redispatchedAt).toEqual([T0 + 2 * MIN, T0 + 4 * MIN]);
    expect(s.dispatcher.calls).toEqual([
      { jobId: "job1", slice: 1 },
      { jobId: "job1", slice: 1 },
    ]);
    const failed = await s.read();
    expect(failed).toMatchObject({ status: "failed", slice: 1, step: 5, lease: null, error: { code: SLICE_RETRIES_EXHAUSTED } });
    expect(s.clock.t).toBe(T0 + 8 * MIN);
    expect(failed.error!.message).toMatch(/slice 1 did not complete in 3 attempts/);
    expect(s.events.events.map((e) => e[1])).toEqual(["inversion.started", "inversion.failed"]);
    expect(await allKeys(s.store, "active-jobs/")).toEqual([]);
    // The last durable checkpoint is kept.
    expect(await allKeys(s.store, "jobs/job1/checkpoints/")).toEqual([failed.checkpoint]);
  });

  it("never writes a job whose slice holds a live lease, nor one that is not late", async () => {
    const observed = new ObservedStore(new MemoryStore());
    const s = setup(observed);
    await createJob(observed, "job1");
    await createJob(observed, "fresh");
    await s.crash(0, "job1");
    observed.ops.length = 0;
    s.clock.t = T0 + 2 * MIN - 1;
    const pass = await s.sweeper.sweep();
    expect(pass).toMatchObject({ checked: 2, redispatched: [], failed: [], cleared: 0, errors: [] });
    expect(observed.writes()).toEqual([]);
    expect(s.dispatcher.calls).toEqual([]);
  });

  it("a queued job whose first dispatch was lost is dispatched after the start timeout", async () => {
    const s = setup();
    await createJob(s.store);
    s.clock.t = T0 + 10 * MIN - 1;
    expect((await s.sweeper.sweep()).redispatched).toEqual([]);
    s.clock.t = T0 + 10 * MIN;
    expect((await s.sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: false }]);
    expect(await s.read()).toMatchObject({ status: "queued", redispatch: { slice: 0, count: 1 } });
    expect((await s.slices().run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");
  });

  it("a slice the backend still holds (a duplicate receipt) is not counted as a redispatch", async () => {
    const s = setup();
    await createJob(s.store);
    const before = await s.read();
    const queued = { calls: [] as SliceInvocation[], dispatch: async (i: SliceInvocation): Promise<DispatchReceipt> => (queued.calls.push(i), { ...i, dispatcher: "inprocess", duplicate: true }) };
    const sweeper = new JobSweeper({ store: s.store, dispatcher: queued, clock: s.clock, policy: POLICY });
    s.clock.t = T0 + 60 * MIN;
    expect((await sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: true }]);
    expect(queued.calls).toHaveLength(1);
    expect(await s.read()).toEqual(before);
  });

  it("two sweeps of one dead slice: both dispatch, one redispatch is counted, exactly one invocation advances", async () => {
    const s = setup();
    await createJob(s.store);
    await s.slices().run({ jobId: "job1", slice: 0 });
    await s.crash(1);
    s.dispatcher.calls.length = 0;
    s.clock.t = T0 + 3 * MIN;
    const other = new JobSweeper({ store: s.store, dispatcher: s.dispatcher, clock: s.clock, policy: POLICY });
    await Promise.all([s.sweeper.sweep(), other.sweep()]);
    expect(s.dispatcher.calls).toEqual([
      { jobId: "job1", slice: 1 },
      { jobId: "job1", slice: 1 },
    ]);
    expect((await s.read()).redispatch).toMatchObject({ slice: 1, count: 1 });
    const results = await Promise.all(s.dispatcher.calls.splice(0).map((call) => s.slices().run(call)));
    expect(results.map((r) => r.kind).sort()).toEqual(["advanced", "lost"]);
    expect(await s.read()).toMatchObject({ slice: 2, step: 10 });
  });

  it("reports a job it cannot read and goes on; removes orphaned markers only once they are old", async () => {
    const s = setup();
    await createJob(s.store, "good");
    await s.store.put(jobRecordKey("broken"), new TextEncoder().encode("{not json"), {});
    await markJobActive(s.store, "broken", new Date(T0));
    await markJobActive(s.store, "orphan", new Date(T0));
    s.clock.t = T0 + 30 * MIN;
    const pass = await s.sweeper.sweep();
    expect(pass.errors.map((e) => e.jobId)).toEqual(["broken"]);
    expect(pass.redispatched).toEqual([{ jobId: "good", slice: 0, duplicate: false }]);
    expect(await allKeys(s.store, "active-jobs/")).toEqual(["active-jobs/broken", "active-jobs/good", "active-jobs/orphan"]);
    s.clock.t = T0 + 60 * MIN;
    expect((await s.sweeper.sweep()).cleared).toBe(1);
    expect(await allKeys(s.store, "active-jobs/")).toEqual(["active-jobs/broken", "active-jobs/good"]);
  });
});
