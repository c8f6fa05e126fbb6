/**
 * The slice service on the embedded stores: a job advances slice by slice through the job record
 * (If-Match), checkpoints are durable before the record points to them, racing invocations of one
 * slice leave exactly one advance, redeliveries repair billing and dispatch idempotently.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { decodeCheckpoint } from "../../../src/core/checkpoint/index.js";
import { parseInversionConfig } from "../../../src/core/inversion/config.js";
import { runSlice } from "../../../src/core/inversion/run-slice.js";
import { createInitialState } from "../../../src/core/inversion/state.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../../src/core/synthetic/objective.js";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { InProcessDispatcher } from "../../../src/ports/dispatcher/index.js";
import { FsStore, MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { JobStore, jobRecordKey, newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import {
  defaultObjectives,
  JobNotFoundError,
  StoreSliceService,
  type ObjectiveFactory,
  type SliceServiceDeps,
} from "../../../src/services/slices/index.js";
import { UsageLedger, usagePrefix, type UsageRecord } from "../../../src/services/usage/index.js";
import { allKeys, ObservedStore, RecordingDispatcher, RecordingEvents, steppingClock, syntheticConfig } from "./harness.js";

const root = mkdtempSync(join(tmpdir(), "slice-service-"));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const stores: Array<[string, () => Store]> = [
  ["MemoryStore", () => new MemoryStore()],
  ["FsStore", () => new FsStore({ root: join(root, String(dirs++)), fsync: false })],
];

const NOW = new Date("2026-01-01T00:00:00Z");

async function createJob(store: Store, id = "job1", config = syntheticConfig()): Promise<JobRecord> {
  const record = newJobRecord({ id, tenantId: "tenant1", keyId: "key1", config, now: NOW });
  await new JobStore(store).create(record);
  return record;
}

async function readJob(store: Store, id = "job1"): Promise<JobRecord> {
  return (await new JobStore(store).read(id))!.record;
}

async function usageOf(store: Store): Promise<UsageRecord[]> {
  const keys = await allKeys(store, usagePrefix("tenant1"));
  return Promise.all(keys.map(async (k) => JSON.parse(new TextDecoder().decode((await store.get(k))!.body)) as UsageRecord));
}

function service(store: Store, extra: Partial<SliceServiceDeps> = {}) {
  const dispatcher = new RecordingDispatcher();
  const events = new RecordingEvents();
  const svc = new StoreSliceService({
    store,
    dispatcher,
    objectives: defaultObjectives(),
    budget: { maxSteps: 5 },
    device: "cpu",
    events,
    clock: steppingClock(),
    monotonic: () => 0,
    ...extra,
  });
  return { svc, dispatcher, events };
}

/** The same run without slicing, stores or records: what the sliced job must reproduce. */
async function uninterrupted(config = syntheticConfig()) {
  const parsed = parseInversionConfig(config);
  const objective = createSyntheticObjective(parsed.seed, syntheticSettingsFrom(parsed.objective));
  return (await runSlice(createInitialState(parsed, objective.initialParams()), { objective, budget: {}, clock: () => 0 })).state;
}

describe.each(stores)("StoreSliceService on %s", (_name, makeStore) => {
  it("runs a job to the end slice by slice through the in-process dispatcher, bit-identical to an unsliced run", async () => {
    const store = makeStore();
    await createJob(store);
    const events = new RecordingEvents();
    const errors: unknown[] = [];
    let svc!: StoreSliceService;
    const dispatcher = new InProcessDispatcher({ runSlice: (inv, { signal }) => svc.run(inv, { signal }), onError: (_i, e) => errors.push(e) });
    svc = new StoreSliceService({ store, dispatcher, objectives: defaultObjectives(), budget: { maxSteps: 5 }, device: "cpu", events, clock: steppingClock() });

    await dispatcher.dispatch({ jobId: "job1", slice: 0 });
    await dispatcher.drain();
    expect(errors).toEqual([]);

    const job = await readJob(store);
    expect(job).toMatchObject({ status: "succeeded", slice: 3, step: 12, outcome: { kind: "max_steps", step: 12 }, error: null });
    expect(job.startedAt).not.toBeNull();
    expect(job.finishedAt).not.toBeNull();
    expect(events.events).toEqual([
      ["job1", "inversion.started"],
      ["job1", "inversion.succeeded"],
    ]);

    // One checkpoint remains, the one the record points to, and it holds the unsliced run's state.
    expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([job.checkpoint]);
    const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body, { expectedConfigHash: job.configHash });
    const reference = await uninterrupted();
    expect(Buffer.from(state.params.buffer).equals(Buffer.from(reference.params.buffer))).toBe(true);
    expect(state.history.ldet).toEqual(reference.history.ldet);

    // The output holds the final parameters.
    const output = decodeSafetensors((await store.get(job.outputs!.params!))!.body);
    expect(Array.from(output.tensors.params!.data as Float32Array)).toEqual(Array.from(reference.params));

    // Billed once per slice, with the steps each slice ran.
    const usage = await usageOf(store);
    expect(usage.map((u) => [u.slice, u.steps, u.device])).toEqual([
      [0, 5, "cpu"],
      [1, 5, "cpu"],
      [2, 2, "cpu"],
    ]);
  });

  it("writes the checkpoint before the record that points to it, and deletes the old one only after", async () => {
    const observed = new ObservedStore(makeStore());
    await createJob(observed);
    // Whenever the record is written, the checkpoint it names must already be readable.
    const dangling: string[] = [];
    observed.afterPut = async (key) => {
      if (key !== jobRecordKey("job1")) return;
      const job = await readJob(observed.inner);
      if (job.checkpoint !== null && !(await observed.inner.get(job.checkpoint))) dangling.push(job.checkpoint);
    };
    const { svc } = service(observed);
    await svc.run({ jobId: "job1", slice: 0 });
    const first = (await readJob(observed.inner)).checkpoint!;
    observed.ops.length = 0;
    await svc.run({ jobId: "job1", slice: 1 });
    const second = (await readJob(observed.inner)).checkpoint!;

    const writes = observed.writes().map((o) => `${o.op} ${o.key}`);
    const at = (s: string) => writes.indexOf(s);
    // The record is written twice: the slice's lease, then the advance that names the checkpoint.
    const advance = writes.lastIndexOf(`put ${jobRecordKey("job1")}`);
    expect(writes.filter((w) => w === `put ${jobRecordKey("job1")}`)).toHaveLength(2);
    expect(at(`put ${jobRecordKey("job1")}`)).toBeLessThan(at(`put ${second}`));
    expect(at(`put ${second}`)).toBeGreaterThanOrEqual(0);
    expect(at(`put ${second}`)).toBeLessThan(advance);
    expect(advance).toBeLessThan(at(`delete ${first}`));
    expect(dangling).toEqual([]);
    expect(await allKeys(observed.inner, "jobs/job1/checkpoints/")).toEqual([second]);
  });

  it("two concurrent invocations of a running slice: exactly one advances, the other leaves nothing behind", async () => {
    const store = makeStore();
    await createJob(store);
    const setup = service(store);
    await setup.svc.run({ jobId: "job1", slice: 0 });
    const before = await readJob(store);

    // Both invocations read the record before either writes (a barrier on the record's first two
    // reads); both then race for the slice's lease, and the loser, reading again, finds it held.
    const observed = new ObservedStore(store);
    const waiting: Array<() => void> = [];
    observed.beforeGet = (key) =>
      key === jobRecordKey("job1") && waiting.length < 2
        ? new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (waiting.length === 2) waiting.forEach((r) => r());
          })
        : undefined;
    const a = service(observed);
    const b = service(observed);
    const results = await Promise.all([a.svc.run({ jobId: "job1", slice: 1 }), b.svc.run({ jobId: "job1", slice: 1 })]);

    expect(results.map((r) => r.kind).sort()).toEqual(["advanced", "lost"]);
    const after = await readJob(store);
    // Two writes: the winner's lease and its advance.
    expect(after).toMatchObject({ slice: 2, step: 10, revision: before.revision + 2, lease: null });
    // One checkpoint (the winner's), one usage record per slice, one dispatch of slice 2.
    expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([after.checkpoint]);
    expect((await usageOf(store)).map((u) => u.slice)).toEqual([0, 1]);
    expect([...a.dispatcher.calls, ...b.dispatcher.calls]).toEqual([{ jobId: "job1", slice: 2 }]);
    expect([...a.events.events, ...b.events.events]).toEqual([]);
  });

  it("two concurrent first slices: one claims the job and announces it once, the other stops before any work", async () => {
    const store = makeStore();
    await createJob(store);
    const observed = new ObservedStore(store);
    const reads: Array<() => void> = [];
    observed.beforeGet = (key) =>
      key === jobRecordKey("job1") && reads.length < 2
        ? new Promise<void>((resolve) => {
            reads.push(resolve);
            if (reads.length === 2) reads.forEach((r) => r());
          })
        : undefined;
    const built: number[] = [];
    const counting: ObjectiveFactory = async (config, jobId) => {
      built.push(1);
      return defaultObjectives()(config, jobId);
    };
    const a = service(observed, { objectives: counting });
    const b = service(observed, { objectives: counting });
    const results = await Promise.all([a.svc.run({ jobId: "job1", slice: 0 }), b.svc.run({ jobId: "job1", slice: 0 })]);
    expect(results.map((r) => r.kind).sort()).toEqual(["advanced", "lost"]);
    expect(built).toHaveLength(1);
    expect([...a.events.events, ...b.events.events]).toEqual([["job1", "inversion.started"]]);
    expect(await readJob(store)).toMatchObject({ status: "running", slice: 1, step: 5 });
  });

  it("a slice that loses to a cancel deletes its checkpoint and neither bills nor dispatches", async () => {
    const store = makeStore();
    await createJob(store);
    const jobs = new JobStore(store);
    // The job is canceled while the slice computes.
    const canceling: ObjectiveFactory = async (config, jobId) => {
      const prepared = await defaultObjectives()(config, jobId);
      const current = (await jobs.read(jobId))!;
      await jobs.advance(current, { ...current.record, status: "canceled", updatedAt: NOW.toISOString(), finishedAt: NOW.toISOString() });
      return prepared;
    };
    const { svc, dispatcher, events } = service(store, { objectives: canceling });
    const result = await svc.run({ jobId: "job1", slice: 0 });
    expect(result.kind).toBe("lost");
    expect(await readJob(store)).toMatchObject({ status: "canceled", slice: 0, checkpoint: null });
    expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([]);
    expect(await usageOf(store)).toEqual([]);
    expect(dispatcher.calls).toEqual([]);
    expect(events.events).toEqual([["job1", "inversion.started"]]);
  });

  it("a redelivered slice after a crash in its follow-up dispatches the successor again and never bills twice", async () => {
    const store = makeStore();
    await createJob(store);
    const { svc, dispatcher } = service(store);
    dispatcher.failNext = 1;
    await expect(svc.run({ jobId: "job1", slice: 0 })).rejects.toThrow(/dispatch backend unavailable/);
    expect(await readJob(store)).toMatchObject({ slice: 1, step: 5, status: "running" });

    const again = await svc.run({ jobId: "job1", slice: 0 });
    expect(again.kind).toBe("repaired");
    expect(dispatcher.calls).toEqual([
      { jobId: "job1", slice: 1 },
      { jobId: "job1", slice: 1 },
    ]);
    expect((await usageOf(store)).map((u) => [u.slice, u.steps])).toEqual([[0, 5]]);
  });

  it("a redelivered slice bills from the record when the crash came before billing", async () => {
    const observed = new ObservedStore(makeStore());
    await createJob(observed);
    let failUsage = true;
    observed.beforePut = (key) => {
      if (key.startsWith("usage/") && failUsage) {
        failUsage = false;
        throw new Error("store unavailable");
      }
    };
    const { svc } = service(observed);
    await expect(svc.run({ jobId: "job1", slice: 0 })).rejects.toThrow(/store unavailable/);
    expect(await usageOf(observed.inner)).toEqual([]);
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("repaired");
    const job = await readJob(observed.inner);
    expect((await usageOf(observed.inner)).map((u) => [u.slice, u.steps, u.seconds])).toEqual([[0, 5, job.lastSlice!.seconds]]);
    expect(await new UsageLedger(observed.inner).summarize({ tenantId: "tenant1" })).toMatchObject({ slices: 1, steps: 5 });
  });

  it("a stale invocation (another slice, a finished or canceled job) writes nothing", async () => {
    const observed = new ObservedStore(makeStore());
    await createJob(observed);
    const { svc, dispatcher } = service(observed);
    observed.ops.length = 0;
    const future = await svc.run({ jobId: "job1", slice: 4 });
    expect(future).toMatchObject({ kind: "stale" });
    expect(future.kind === "stale" && future.reason).toMatch(/slice 0/);

    const jobs = new JobStore(observed.inner);
    const current = (await jobs.read("job1"))!;
    await jobs.advance(current, { ...current.record, status: "canceled" });
    observed.ops.length = 0;
    expect((await svc.run({ jobId: "job1", slice: 0 })).kind).toBe("stale");
    expect(observed.writes()).toEqual([]);
    expect(dispatcher.calls).toEqual([]);
  });

  it("an interrupted slice checkpoints after one update and dispatches no successor", async () => {
    const store = makeStore();
    await createJob(store);
    const { svc, dispatcher } = service(store);
    const abort = new AbortController();
    abort.abort();
    const result = await svc.run({ jobId: "job1", slice: 0 }, { signal: abort.signal });
    expect(result).toMatchObject({ kind: "advanced", outcome: { kind: "continue", reason: "interrupted" }, next: null });
    expect(await readJob(store)).toMatchObject({ status: "running", slice: 1, step: 1 });
    expect(dispatcher.calls).toEqual([]);
  });

  it("a signal raised while a CPU-bound slice runs (SIGTERM, a timer) interrupts it", async () => {
    const store = makeStore();
    await createJob(store, "job1", syntheticConfig({ maxSteps: 10_000_000, stop: { name: "fixed", steps: 9_000_000 } }));
    const { svc } = service(store, { budget: { maxWallMs: 20_000 }, monotonic: () => performance.now() });
    const abort = new AbortController();
    // Long enough for a loaded CI machine to start computing; far shorter than the 20 s budget.
    setTimeout(() => abort.abort(), 300);
    const started = performance.now();
    const result = await svc.run({ jobId: "job1", slice: 0 }, { signal: abort.signal });
    expect(result).toMatchObject({ kind: "advanced", outcome: { kind: "continue", reason: "interrupted" } });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((await readJob(store)).step).toBeGreaterThan(1);
  });

  it("fails the job, with a code, when its checkpoint is corrupt or its objective unknown", async () => {
    const store = makeStore();
    await createJob(store);
    const { svc, events } = service(store);
    await svc.run({ jobId: "job1", slice: 0 });
    const job = await readJob(store);
    const bytes = (await store.get(job.checkpoint!))!.body.slice();
    bytes[bytes.length - 1]! ^= 0xff;
    await store.put(job.checkpoint!, bytes);
    const result = await svc.run({ jobId: "job1", slice: 1 });
    expect(result.kind).toBe("failed");
    expect(await readJob(store)).toMatchObject({ status: "failed", error: { code: "checkpoint_checksum" } });
    expect(events.events.at(-1)).toEqual(["job1", "inversion.failed"]);

    await createJob(store, "job2", syntheticConfig({ objective: { kind: "textual-inversion", model: "sd15" } }));
    const unknown = await svc.run({ jobId: "job2", slice: 0 });
    expect(unknown.kind).toBe("failed");
    const failed = await readJob(store, "job2");
    expect(failed.error).toMatchObject({ code: "unsupported_objective" });
    expect(failed.error!.message).toMatch(/textual-inversion.*synthetic/);
  });

  it("leaves the job untouched when the objective throws (a lost GPU), so the slice can run again", async () => {
    const store = makeStore();
    await createJob(store);
    await service(store).svc.run({ jobId: "job1", slice: 0 });
    const before = await readJob(store);
    const flaky: ObjectiveFactory = async (config, jobId) => {
      const prepared = await defaultObjectives()(config, jobId);
      return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient: async () => Promise.reject(new Error("CUDA error: device lost")) } };
    };
    await expect(service(store, { objectives: flaky }).svc.run({ jobId: "job1", slice: 1 })).rejects.toThrow(/device lost/);
    // Where the job stands is unchanged, and the failed invocation gave its lease back.
    const { revision: _r, updatedAt: _u, ...unchanged } = before;
    expect(await readJob(store)).toMatchObject({ ...unchanged, lease: null });
    expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([before.checkpoint]);
    expect((await service(store).svc.run({ jobId: "job1", slice: 1 })).kind).toBe("advanced");
  });

  it("takes a lease of start-up grace + heartbeat TTL; a live lease stops a duplicate, an expired one is taken over", async () => {
    const store = makeStore();
    await createJob(store);
    let now = Date.parse("2026-01-01T01:00:00Z");
    const clock = { now: () => now, sleep: async () => {} };
    const jobs = new JobStore(store);
    // The slice dies after taking its lease: the objective never returns a step.
    const dying: ObjectiveFactory = async (config, jobId) => {
      const prepared = await defaultObjectives()(config, jobId);
      return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient: () => new Promise<never>(() => {}) } };
    };
    // 30 s of grace + the default 60 s TTL (the 10-minute wall budget no longer counts).
    void service(store, { objectives: dying, clock, budget: { maxSteps: 5, maxWallMs: 600_000 }, leaseGraceMs: 30_000, attemptId: () => "dead" }).svc.run({ jobId: "job1", slice: 0 });
    await vi.waitFor(async () => expect((await readJob(store)).lease).not.toBeNull());
    const leased = await readJob(store);
    expect(leased).toMatchObject({ status: "running", slice: 0, lease: { slice: 0, attempt: "dead", startedAt: "2026-01-01T01:00:00.000Z", expiresAt: "2026-01-01T01:01:30.000Z", ttlMs: 60_000 } });

    // While the lease lasts, another invocation of the slice is a duplicate: it writes nothing.
    const observed = new ObservedStore(store);
    now += 89_000;
    const duplicate = await service(observed, { clock }).svc.run({ jobId: "job1", slice: 0 });
    expect(duplicate.kind).toBe("lost");
    expect(observed.writes()).toEqual([]);

    // Once it has expired, the slice is taken over and the job advances from where it stood.
    now += 2_000;
    const takeover = await service(store, { clock, budget: { maxSteps: 5, maxWallMs: 60_000 }, attemptId: () => "second" }).svc.run({ jobId: "job1", slice: 0 });
    expect(takeover.kind).toBe("advanced");
    expect(await readJob(store)).toMatchObject({ status: "running", slice: 1, step: 5, lease: null, revision: leased.revision + 2 });
    expect((await jobs.read("job1"))!.record.checkpoint).toMatch(/-second$/);
  });

  it("refuses a missing job and an invalid invocation", async () => {
    const { svc } = service(makeStore());
    await expect(svc.run({ jobId: "nope", slice: 0 })).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(svc.run({ jobId: "bad id", slice: 0 })).rejects.toThrow(/job id/);
  });
});
