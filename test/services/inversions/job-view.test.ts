/**
 * The detail view reads a job's histories from the summary its slice wrote beside the checkpoint
 * (services/slices/history-summary.ts) and answers exactly what decoding the checkpoint answered:
 * for a queued job, a running one between slices, a running one whose slice's progress is ahead,
 * and a finished one with more rows than the view keeps; a missing, corrupt or mismatched summary
 * falls back to the checkpoint. Summaries go with their checkpoints.
 */
import { describe, expect, it, vi } from "vitest";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { describeJob } from "../../../src/services/inversions/job-view.js";
import { JobStore, newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import { defaultObjectives, readProgress, StoreSliceService, type ObjectiveFactory } from "../../../src/services/slices/index.js";
import { historySummaryKey } from "../../../src/services/slices/history-summary.js";
import { allKeys, ObservedStore, RecordingDispatcher, steppingClock, syntheticConfig } from "../slices/harness.js";

const NOW = new Date("2026-01-01T00:00:00Z");
const LATER = new Date("2026-01-02T00:00:00Z");
// More rows than the view keeps (256), L_det every 2nd update and the rule every 3rd (NaN rows in
// both); a threshold so low that the rule never fires, so the job runs all 600 steps.
const CONFIG = syntheticConfig({ maxSteps: 600, ldetEvery: 2, stop: { name: "dvar", window: 60, every: 3, threshold: 1e-9 } });

function slices(store: Store, objectives: ObjectiveFactory = defaultObjectives()) {
  return new StoreSliceService({ store, dispatcher: new RecordingDispatcher(), objectives, budget: { maxSteps: 250 }, device: "cpu", clock: steppingClock(), monotonic: () => 0, progress: { everySteps: 50 } });
}

async function readJob(store: Store): Promise<JobRecord> {
  return (await new JobStore(store).read("job1"))!.record;
}

/** The view as it was before summaries: the summary removed, so the checkpoint is decoded. */
async function viewFromCheckpoint(store: MemoryStore, job: JobRecord) {
  const copy = new MemoryStore();
  for (const key of await allKeys(store)) if (!key.includes("/histories/")) await copy.put(key, (await store.get(key))!.body);
  return describeJob(copy, job, LATER);
}

/** The view now, checking that it did not read the checkpoint. */
async function viewFromSummary(store: MemoryStore, job: JobRecord) {
  const observed = new ObservedStore(store);
  const view = await describeJob(observed, job, LATER);
  expect(observed.ops.filter((o) => o.op === "get" && o.key === job.checkpoint)).toEqual([]);
  return view;
}

describe("describeJob with history summaries", () => {
  it("answers what the checkpoint answered: queued, between slices, progress ahead, finished", async () => {
    const store = new MemoryStore();
    await new JobStore(store).create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: CONFIG, now: NOW }));
    const queued = await readJob(store);
    expect(await describeJob(store, queued, LATER)).toStrictEqual(await viewFromCheckpoint(store, queued));

    expect((await slices(store).run({ jobId: "job1", slice: 0 })).kind).toBe("advanced");
    const between = await readJob(store);
    expect(between).toMatchObject({ status: "running", step: 250 });
    const betweenView = await viewFromSummary(store, between);
    expect(betweenView.histories!.total_steps).toBe(250);
    expect(betweenView.histories!.l_det).toContain(null);
    expect(betweenView).toStrictEqual(await viewFromCheckpoint(store, between));

    // Slice 1 holds update 420 until released: its progress (to step 400) extends the record.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: ObjectiveFactory = async (config, jobId) => {
      const prepared = await defaultObjectives()(config, jobId);
      const train = prepared.objective.trainLossAndGradient;
      const trainLossAndGradient = async (s: number, p: Float32Array) => {
        if (s === 420) await gate;
        return train(s, p);
      };
      return { ...prepared, objective: { ...prepared.objective, trainLossAndGradient } };
    };
    const running = slices(store, gated).run({ jobId: "job1", slice: 1 });
    await vi.waitFor(async () => expect((await readProgress(store, "job1"))?.step).toBe(400));
    const leased = await readJob(store);
    const aheadView = await viewFromSummary(store, leased);
    expect(aheadView).toMatchObject({ step: 400, histories: { total_steps: 400 } });
    expect(aheadView).toStrictEqual(await viewFromCheckpoint(store, leased));
    release();
    expect((await running).kind).toBe("advanced");

    for (let slice = 2; (await readJob(store)).status === "running"; slice++) expect((await slices(store).run({ jobId: "job1", slice })).kind).toBe("advanced");
    const done = await readJob(store);
    expect(done.status).toBe("succeeded");
    const doneView = await viewFromSummary(store, done);
    expect(doneView.histories!.step).toHaveLength(256);
    expect(doneView.dvar_ratio).not.toBeNull();
    expect(doneView).toStrictEqual(await viewFromCheckpoint(store, done));

    // One summary, the current checkpoint's: the replaced ones went with their checkpoints.
    expect(await allKeys(store, "jobs/job1/histories/")).toEqual([historySummaryKey(done.checkpoint!)]);
  });

  it("a slice that loses its advance discards the summary with its checkpoint", async () => {
    const store = new ObservedStore(new MemoryStore());
    const jobs = new JobStore(store.inner);
    await jobs.create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: CONFIG, now: NOW }));
    // The job is canceled right after the summary is written, before the slice's advance.
    store.afterPut = async (key) => {
      if (!key.includes("/histories/")) return;
      const current = (await jobs.read("job1"))!;
      await jobs.advance(current, { ...current.record, status: "canceled", updatedAt: NOW.toISOString(), finishedAt: NOW.toISOString() });
    };
    expect((await slices(store).run({ jobId: "job1", slice: 0 })).kind).toBe("lost");
    expect(store.writes().filter((w) => w.key.includes("/histories/")).map((w) => w.op)).toEqual(["put", "delete"]);
    expect(await allKeys(store.inner, "jobs/job1/histories/")).toEqual([]);
    expect(await allKeys(store.inner, "jobs/job1/checkpoints/")).toEqual([]);
  });

  it("falls back to the checkpoint when the summary is corrupt or summarizes another step", async () => {
    const store = new MemoryStore();
    await new JobStore(store).create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: CONFIG, now: NOW }));
    await slices(store).run({ jobId: "job1", slice: 0 });
    const job = await readJob(store);
    const expected = await viewFromCheckpoint(store, job);
    const key = historySummaryKey(job.checkpoint!)!;
    const summary = (await store.get(key))!.body;

    await store.put(key, summary.subarray(0, summary.length - 8));
    expect(await describeJob(store, job, LATER)).toStrictEqual(expected);
    // A summary of another step than the record's is refused: the checkpoint decides.
    await store.put(key, summary);
    const observed = new ObservedStore(store);
    const other = { ...job, step: 249 };
    expect(await describeJob(observed, other, LATER)).toStrictEqual(await viewFromCheckpoint(store, other));
    expect(observed.ops.some((o) => o.op === "get" && o.key === job.checkpoint)).toBe(true);
  });
});
