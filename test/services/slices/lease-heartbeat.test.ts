/**
 * The lease heartbeat, through the slice service on the embedded stores with a fake clock that
 * only the test moves (each training step "takes" a fixed time): renewals come from the slice's
 * own steps, rate-limited to a third of the TTL, and set the lease to renewal + TTL; a slice
 * whose lease was taken over mid-run stops before writing anything and leaves the new owner's
 * state byte for byte as it was; without a TTL the lease is the old budget + grace.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeCheckpoint } from "../../../src/core/checkpoint/index.js";
import { parseInversionConfig } from "../../../src/core/inversion/config.js";
import { runSlice } from "../../../src/core/inversion/run-slice.js";
import { createInitialState } from "../../../src/core/inversion/state.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../../src/core/synthetic/objective.js";
import { FsStore, MemoryStore, type Store } from "../../../src/ports/store/index.js";
import type { ScheduleFn } from "../../../src/ports/timer.js";
import { JobSweeper } from "../../../src/services/recovery/index.js";
import { JobStore, jobRecordKey, newJobRecord, parseJobRecord, type JobRecord, type SliceLease } from "../../../src/services/jobs/index.js";
import { defaultObjectives, LeaseHeartbeat, StoreSliceService, type ObjectiveFactory, type SliceServiceDeps } from "../../../src/services/slices/index.js";
import { usagePrefix } from "../../../src/services/usage/index.js";
import { allKeys, FakeClock, ObservedStore, RecordingDispatcher, RecordingEvents, syntheticConfig, timedObjectives } from "./harness.js";

const root = mkdtempSync(join(tmpdir(), "lease-heartbeat-"));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const stores: Array<[string, () => Store]> = [
  ["MemoryStore", () => new MemoryStore()],
  ["FsStore", () => new FsStore({ root: join(root, String(dirs++)), fsync: false })],
];

const T0 = Date.parse("2026-01-01T00:00:00Z");
const S = 1000;
const MIN = 60 * S;
const iso = (t: number) => new Date(t).toISOString();


/**
 * Timers on the fake clock. `advance(ms)` moves the clock to each timer due within `ms` in turn,
 * fires it and waits for what it started (the heartbeat's timer returns its renewal).
 */
class FakeScheduler {
  private timers: Array<{ at: number; run: () => unknown }> = [];
  scheduled = 0;
  constructor(private readonly clock: FakeClock) {}
  schedule: ScheduleFn = (run, ms) => {
    const timer = { at: this.clock.t + ms, run };
    this.timers.push(timer);
    this.scheduled++;
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  };
  get pending(): number {
    return this.timers.length;
  }
  async advance(ms: number): Promise<void> {
    const end = this.clock.t + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.clock.t = Math.max(this.clock.t, next.at);
      await next.run();
    }
    this.clock.t = end;
  }
}


function sliceService(store: Store, clock: FakeClock, extra: Partial<SliceServiceDeps> = {}) {
  const dispatcher = new RecordingDispatcher();
  const svc = new StoreSliceService({
    store,
    dispatcher,
    objectives: defaultObjectives(),
    budget: { maxSteps: 12, maxWallMs: 60 * MIN },
    device: "cpu",
    events: new RecordingEvents(),
    clock,
    monotonic: () => 0,
    leaseGraceMs: 5 * MIN,
    leaseTtlMs: MIN,
    ...extra,
  });
  return { svc, dispatcher };
}

async function createJob(store: Store): Promise<void> {
  await new JobStore(store).create(newJobRecord({ id: "job1", tenantId: "tenant1", keyId: "key1", config: syntheticConfig(), now: new Date(T0) }));
}

/** The lease of every record write, in order (null: cleared). */
function leaseLog(store: ObservedStore): Array<SliceLease | null> {
  const leases: Array<SliceLease | null> = [];
  store.afterPut = async (key) => {
    if (key === jobRecordKey("job1")) leases.push((await new JobStore(store.inner).read("job1"))!.record.lease);
  };
  return leases;
}

/** Every object in the store, key -> bytes (hex), for byte-for-byte comparisons. */
async function snapshot(store: Store): Promise<Record<string, string>> {
  const all: Record<string, string> = {};
  for (const key of await allKeys(store)) all[key] = Buffer.from((await store.get(key))!.body).toString("hex");
  return all;
}

async function uninterruptedParams(): Promise<Float32Array> {
  const parsed = parseInversionConfig(syntheticConfig());
  const objective = createSyntheticObjective(parsed.seed, syntheticSettingsFrom(parsed.objective));
  return (await runSlice(createInitialState(parsed, objective.initialParams()), { objective, budget: {}, clock: () => 0 })).state.params;
}

describe.each(stores)("lease heartbeat on %s", (_name, makeStore) => {
  it("renews from the slice's own steps, at most every third of the TTL, to renewal + TTL", async () => {
    const store = new ObservedStore(makeStore());
    await createJob(store);
    const leases = leaseLog(store);
    const clock = new FakeClock(T0);
    // 12 steps of 7 s: beats at 0, 7, 14, ... 84 s; due every 20 s.
    const { svc } = sliceService(store, clock, { objectives: timedObjectives(clock, 7 * S), attemptId: () => "a1" });
    const result = await svc.run({ jobId: "job1", slice: 0 });
    expect(result.kind).toBe("advanced");

    const claim: SliceLease = { slice: 0, attempt: "a1", startedAt: iso(T0), expiresAt: iso(T0 + 5 * MIN + MIN), ttlMs: MIN };
    const renewal = (at: number): SliceLease => ({ ...claim, renewedAt: iso(T0 + at), expiresAt: iso(T0 + at + MIN) });
    expect(leases).toEqual([claim, renewal(21 * S), renewal(42 * S), renewal(63 * S), renewal(84 * S), null]);

    // Each renewal is one record write (If-Match); the advance came from the last one's ETag.
    const job = (await new JobStore(store).read("job1"))!.record;
    expect(job).toMatchObject({ status: "succeeded", step: 12, revision: 6, lease: null, updatedAt: iso(T0 + 84 * S) });
    // The heartbeat does not touch the computation.
    const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from((await uninterruptedParams()).buffer))).toBe(true);
  });

  it("a start-up that takes nearly all of the grace is followed by a renewal at the first step: the sweep finds the lease live", async () => {
    const store = new ObservedStore(makeStore());
    await createJob(store);
    const leases = leaseLog(store);
    const clock = new FakeClock(T0);
    const sweeper = new JobSweeper({ store, dispatcher: new RecordingDispatcher(), clock });
    const sweeps: Array<Awaited<ReturnType<JobSweeper["sweep"]>>> = [];
    // Step 1 starts once step 0's renewal (the first beat) has landed; the claim's lease (grace + TTL = 6 min) has run out by then.
    const sweepInStep1 = async (step: number) => {
      if (step === 1) sweeps.push(await sweeper.sweep());
    };
    const timed = timedObjectives(clock, 7 * S, sweepInStep1);
    // Loading the model takes 5 min 55 s of the grace's 5 min (+ TTL 60 s).
    const slowStart: ObjectiveFactory = async (config, jobId) => {
      clock.t += 5 * MIN + 55 * S;
      return timed(config, jobId);
    };
    const { svc, dispatcher } = sliceService(store, clock, { objectives: slowStart, attemptId: () => "a1" });
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");

    const start = 5 * MIN + 55 * S;
    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]).toMatchObject({ checked: 1, redispatched: [], failed: [] });
    expect(T0 + start + 14 * S).toBeGreaterThan(T0 + 6 * MIN);
    // The first beat renews (its due time comes from the lease, not from when the heartbeat was made), then every 21 s.
    const claim: SliceLease = { slice: 0, attempt: "a1", startedAt: iso(T0), expiresAt: iso(T0 + 6 * MIN), ttlMs: MIN };
    const renewal = (at: number): SliceLease => ({ ...claim, renewedAt: iso(T0 + at), expiresAt: iso(T0 + at + MIN) });
    expect(leases).toEqual([claim, renewal(start), renewal(start + 21 * S), renewal(start + 42 * S), renewal(start + 63 * S), renewal(start + 84 * S), null]);
    expect(dispatcher.calls).toEqual([]);
    const job = (await new JobStore(store).read("job1"))!.record;
    expect(job).toMatchObject({ status: "succeeded", step: 12, redispatch: null });
    const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from((await uninterruptedParams()).buffer))).toBe(true);
  });

  it("an objective call that takes 3 TTLs keeps the lease: a timer renews it every third of the TTL while the call is in flight", async () => {
    const store = new ObservedStore(makeStore());
    await createJob(store);
    const leases = leaseLog(store);
    const clock = new FakeClock(T0);
    const scheduler = new FakeScheduler(clock);
    const sweeper = new JobSweeper({ store, dispatcher: new RecordingDispatcher(), clock });
    const sweeps: Array<Awaited<ReturnType<JobSweeper["sweep"]>>> = [];
    // Steps take no time, but step 2 takes 3 minutes; a sweep looks at the job as it ends.
    const longStep2 = async (step: number) => {
      if (step !== 2) return;
      await scheduler.advance(3 * MIN);
      sweeps.push(await sweeper.sweep());
    };
    // No grace: the claim's lease runs out 1 minute in, so only renewals during the call keep it.
    const { svc, dispatcher } = sliceService(store, clock, { objectives: timedObjectives(clock, 0, longStep2), attemptId: () => "a1", leaseGraceMs: 0, schedule: scheduler.schedule });
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");

    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]).toMatchObject({ checked: 1, redispatched: [], failed: [] });
    const claim: SliceLease = { slice: 0, attempt: "a1", startedAt: iso(T0), expiresAt: iso(T0 + MIN), ttlMs: MIN };
    const renewal = (at: number): SliceLease => ({ ...claim, renewedAt: iso(T0 + at), expiresAt: iso(T0 + at + MIN) });
    expect(leases).toEqual([claim, ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => renewal(k * 20 * S)), null]);
    expect(dispatcher.calls).toEqual([]);
    const job = (await new JobStore(store).read("job1"))!.record;
    expect(job).toMatchObject({ status: "succeeded", step: 12, redispatch: null });
    const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from((await uninterruptedParams()).buffer))).toBe(true);
    // A timer was armed for every call, and none is left.
    expect(scheduler.scheduled).toBeGreaterThanOrEqual(12);
    expect(scheduler.pending).toBe(0);
  });

  it("no timer outlives a slice whose objective call fails in flight", async () => {
    const store = makeStore();
    await createJob(store);
    const clock = new FakeClock(T0);
    const scheduler = new FakeScheduler(clock);
    const failInStep2 = async (step: number) => {
      if (step !== 2) return;
      await scheduler.advance(30 * S);
      expect(scheduler.pending).toBe(1);
      throw new Error("device lost");
    };
    const { svc } = sliceService(store, clock, { objectives: timedObjectives(clock, 0, failInStep2), leaseGraceMs: 0, schedule: scheduler.schedule });
    await expect(svc.run({ jobId: "job1", slice: 0 })).rejects.toThrow("device lost");
    expect(scheduler.pending).toBe(0);
    // Created (0), claimed (1), renewed at 20 s (2), and the failing slice gave its lease back from that renewal (3).
    expect((await new JobStore(store).read("job1"))!.record).toMatchObject({ status: "running", slice: 0, lease: null, revision: 3 });
  });

  it("a takeover during a long call is found by the timer's renewal: the slice ends lost at the step's end and writes nothing", async () => {
    const base = makeStore();
    await createJob(base);
    const clock = new FakeClock(T0);
    const scheduler = new FakeScheduler(clock);
    const sweeper = new JobSweeper({ store: base, dispatcher: new RecordingDispatcher(), clock });
    let after: Record<string, string> | undefined;
    // In A's step 2 its process stalls (no timer fires) past its lease: the sweep dispatches the
    // slice again and B runs it to its advance; then A's overdue timer fires, still in the call.
    const takeover = async (step: number) => {
      if (step !== 2) return;
      clock.t = Date.parse((await new JobStore(base).read("job1"))!.record.lease!.expiresAt);
      expect((await sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: false }]);
      const b = sliceService(base, clock, { budget: { maxSteps: 5 }, attemptId: () => "b", leaseGraceMs: 0, schedule: new FakeScheduler(clock).schedule });
      expect((await b.svc.run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");
      after = await snapshot(base);
      expect(scheduler.pending).toBe(1);
      await scheduler.advance(0);
    };
    let calls = 0;
    const counting: ObjectiveFactory = async (config, jobId) => {
      const prepared = await timedObjectives(clock, 0, takeover)(config, jobId);
      const train = prepared.objective.trainLossAndGradient;
      return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient: (s: number, p: Float32Array) => (calls++, train(s, p)) } };
    };
    const observed = new ObservedStore(base);
    const a = sliceService(observed, clock, { budget: { maxSteps: 5 }, objectives: counting, attemptId: () => "a", leaseGraceMs: 0, schedule: scheduler.schedule });
    const result = await a.svc.run({ jobId: "job1", slice: 0 });

    expect(result.kind).toBe("lost");
    expect(after).toBeDefined();
    expect(await snapshot(base)).toEqual(after);
    // Stopped after step 2's update (steps 0-2 ran): the loss came from the timer, not from step 3's beat.
    expect(calls).toBe(3);
    // A's one write: its claim (its renewal lost); no checkpoint, output or usage.
    expect(observed.writes()).toEqual([{ op: "put", key: jobRecordKey("job1") }]);
    expect(a.dispatcher.calls).toEqual([]);
    expect(scheduler.pending).toBe(0);
  });

  it("without a TTL the lease lasts wall budget + grace and is never renewed (the lease before the heartbeat)", async () => {
    const store = new ObservedStore(makeStore());
    await createJob(store);
    const leases = leaseLog(store);
    const clock = new FakeClock(T0);
    const { svc } = sliceService(store, clock, { objectives: timedObjectives(clock, 7 * S), attemptId: () => "a1", leaseTtlMs: 0 });
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");
    expect(leases).toEqual([{ slice: 0, attempt: "a1", startedAt: iso(T0), expiresAt: iso(T0 + 60 * MIN + 5 * MIN) }, null]);
  });

  it("a slice whose lease is taken over mid-run stops without a checkpoint; the new owner's state stays byte-identical", async () => {
    const base = makeStore();
    await createJob(base);
    const clock = new FakeClock(T0);
    const dispatcher = new RecordingDispatcher();
    const sweeper = new JobSweeper({ store: base, dispatcher, clock });
    let after: Record<string, string> | undefined;
    // During A's step 2, A stalls past its lease: the sweep dispatches the slice again and B runs it to its advance.
    const takeover = async (step: number) => {
      if (step !== 2 || after) return;
      clock.t = Date.parse((await new JobStore(base).read("job1"))!.record.lease!.expiresAt);
      expect((await sweeper.sweep()).redispatched).toEqual([{ jobId: "job1", slice: 0, duplicate: false }]);
      const b = sliceService(base, clock, { budget: { maxSteps: 5 }, attemptId: () => "b" });
      expect((await b.svc.run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");
      after = await snapshot(base);
    };
    const observed = new ObservedStore(base);
    const a = sliceService(observed, clock, { budget: { maxSteps: 5 }, objectives: timedObjectives(clock, 30 * S, takeover), attemptId: () => "a" });
    const result = await a.svc.run({ jobId: "job1", slice: 0 });

    expect(result.kind).toBe("lost");
    expect(after).toBeDefined();
    // B's record, checkpoint, usage and everything else: as B left them, byte for byte.
    expect(await snapshot(base)).toEqual(after);
    const job = (await new JobStore(base).read("job1"))!.record;
    expect(job).toMatchObject({ status: "running", slice: 1, step: 5, lease: null });
    expect(job.checkpoint).toMatch(/-b$/);
    expect(await allKeys(base, "jobs/job1/checkpoints/")).toEqual([job.checkpoint]);
    expect(await allKeys(base, usagePrefix("tenant1"))).toHaveLength(1);
    // A wrote no checkpoint, output or usage at all, and dispatched nothing; its last record write was its own renewal.
    const aWrites = observed.writes().map((w) => w.key);
    expect(aWrites.filter((k) => k !== jobRecordKey("job1"))).toEqual([]);
    expect(a.dispatcher.calls).toEqual([]);
  });

  it("a slice whose job is canceled stops at its next renewal instead of running to the end", async () => {
    const store = makeStore();
    await createJob(store);
    const clock = new FakeClock(T0);
    const jobs = new JobStore(store);
    const cancelAt = async (step: number) => {
      if (step !== 3) return;
      const current = (await jobs.read("job1"))!;
      await jobs.advance(current, { ...current.record, status: "canceled", updatedAt: iso(clock.t), finishedAt: iso(clock.t) });
    };
    let steps = 0;
    const counting: ObjectiveFactory = async (config, jobId) => {
      const prepared = await timedObjectives(clock, 30 * S, cancelAt)(config, jobId);
      const train = prepared.objective.trainLossAndGradient;
      return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient: (s: number, p: Float32Array) => (steps++, train(s, p)) } };
    };
    const { svc, dispatcher } = sliceService(store, clock, { objectives: counting });
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("lost");
    // The renewal due in step 3 (the clock at 120 s, the last renewal at 90 s) finds the job
    // canceled before step 4 starts; step 4 is the last (12 allowed).
    expect(steps).toBe(5);
    expect(await jobs.read("job1").then((j) => j!.record)).toMatchObject({ status: "canceled", slice: 0, checkpoint: null, step: 0 });
    expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([]);
    expect(dispatcher.calls).toEqual([]);
  });
});

describe("LeaseHeartbeat due time", () => {
  /** A job holding `lease`, and a heartbeat on it at T0 + 5 s; returns the record's lease after one beat. */
  async function beatOnce(lease: SliceLease): Promise<SliceLease | null> {
    const jobs = new JobStore(new MemoryStore());
    const created = await jobs.create(newJobRecord({ id: "job1", tenantId: "tenant1", keyId: "key1", config: syntheticConfig(), now: new Date(T0) }));
    const held = (await jobs.advance(created, { ...created.record, status: "running", lease }))!;
    const heartbeat = new LeaseHeartbeat({ jobs, held, clock: new FakeClock(T0 + 5 * S), ttlMs: MIN });
    heartbeat.beat();
    expect((await heartbeat.settle()).kind).toBe("held");
    return (await jobs.read("job1"))!.record.lease;
  }

  it("comes from the lease: a third of the TTL after its claim or renewal, or sooner once under two thirds of the TTL is left", async () => {
    const claim: SliceLease = { slice: 0, attempt: "a", startedAt: iso(T0), expiresAt: iso(T0 + 6 * MIN), ttlMs: MIN };
    // 5 s after the claim, 5 min 55 s left: not due.
    expect(await beatOnce(claim)).toEqual(claim);
    // Claimed 25 s before the heartbeat was made: due at once.
    const older = { ...claim, startedAt: iso(T0 - 20 * S) };
    expect(await beatOnce(older)).toEqual({ ...older, renewedAt: iso(T0 + 5 * S), expiresAt: iso(T0 + 5 * S + MIN) });
    // Renewed 5 s ago, but only 35 s left (< 40 s): due.
    const short = { ...claim, renewedAt: iso(T0), expiresAt: iso(T0 + 40 * S) };
    expect(await beatOnce(short)).toEqual({ ...short, renewedAt: iso(T0 + 5 * S), expiresAt: iso(T0 + 5 * S + MIN) });
  });
});

describe("lease records", () => {
  it("a lease written before the heartbeat (no ttlMs, no renewedAt) still parses, unchanged", () => {
    const record: JobRecord = {
      ...newJobRecord({ id: "job1", tenantId: "tenant1", keyId: "key1", config: syntheticConfig(), now: new Date(T0) }),
      status: "running",
      lease: { slice: 0, attempt: "old", startedAt: iso(T0), expiresAt: iso(T0 + 15 * MIN) },
    };
    const parsed = parseJobRecord(JSON.parse(JSON.stringify(record)), "job1");
    expect(parsed.lease).toEqual({ slice: 0, attempt: "old", startedAt: iso(T0), expiresAt: iso(T0 + 15 * MIN) });
    expect(() => parseJobRecord({ ...record, lease: { ...record.lease, ttlMs: 0 } }, "job1")).toThrow(/ttlMs/);
  });
});
