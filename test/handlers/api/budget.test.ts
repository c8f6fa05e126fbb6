import { describe, expect, it } from "vitest";
import { decodeCheckpoint } from "../../../src/core/checkpoint/index.js";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import { JobStore } from "../../../src/services/jobs/index.js";
import { defaultObjectives, StoreSliceService } from "../../../src/services/slices/index.js";
import { UsageLedger } from "../../../src/services/usage/index.js";
import { RecordingDispatcher, RecordingEvents } from "../../services/slices/harness.js";
import { createHarness, problem, storedKeys, syntheticBody, type Harness } from "./harness.js";

/** A key of tenant A with a budget, a way to bill it, and a slice service whose dispatches and events are recorded. */
async function cappedSetup(budgetSeconds: number) {
  const h = await createHarness({ runSlices: false });
  const capped = await new ApiKeyRegistry(h.store).issue("tenant-a", "capped", undefined, { budgetSeconds });
  const bill = (jobId: string, seconds: number) =>
    new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId, slice: 0, steps: 1, device: "cpu", seconds, recordedAt: "2026-01-01T00:00:00Z" });
  const dispatcher = new RecordingDispatcher();
  const events = new RecordingEvents();
  const slices = new StoreSliceService({ store: h.store, dispatcher, objectives: defaultObjectives(), budget: { maxSteps: 40 }, device: "cpu", events });
  return { h, capped, bill, dispatcher, events, slices };
}

async function createJob(h: Harness, key: string): Promise<string> {
  const response = await h.post("/v1/inversions", syntheticBody({ max_steps: 120, stopping: { name: "fixed", steps: 120 } }), {}, key);
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

describe("per-key budget", () => {
  it("answers 402 once the key's billed device seconds reach its budget; other keys are unaffected", async () => {
    const h = await createHarness({ runSlices: false });
    const registry = new ApiKeyRegistry(h.store);
    const capped = await registry.issue("tenant-a", "capped", undefined, { budgetSeconds: 10 });
    const bill = (jobId: string, seconds: number) =>
      new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId, slice: 0, steps: 100, device: "cpu", seconds, recordedAt: "2026-01-01T00:00:00Z" });

    await bill("inv_earlier1", 9.5);
    expect((await h.post("/v1/inversions", syntheticBody(), {}, capped.key)).status).toBe(202);
    await bill("inv_earlier2", 0.5);
    const before = await storedKeys(h.store);
    const refused = await h.post("/v1/inversions", syntheticBody({ seed: 2 }), {}, capped.key);
    expect(refused.status).toBe(402);
    const body = await problem(refused);
    expect(body.code).toBe("budget_exhausted");
    expect(body.detail).toContain("10.0 of its 10 device seconds");
    expect(await storedKeys(h.store)).toEqual(before);
    // The tenant's uncapped key still works.
    expect((await h.post("/v1/inversions", syntheticBody({ seed: 3 }))).status).toBe(202);
  });

  it("refuses an invalid budget when issuing a key", async () => {
    const h = await createHarness({ runSlices: false });
    await expect(new ApiKeyRegistry(h.store).issue("tenant-a", "bad", undefined, { budgetSeconds: -1 })).rejects.toThrow(RangeError);
  });

  it("stops a running job before its next slice once the key's budget is spent: failed, budget_exhausted, checkpoint kept, .failed announced", async () => {
    const { h, capped, bill, dispatcher, events, slices } = await cappedSetup(10);
    const id = await createJob(h, capped.key);
    const first = await slices.run({ jobId: id, slice: 0 });
    expect(first).toMatchObject({ kind: "advanced", job: { status: "running", step: 40 } });
    expect(dispatcher.calls).toEqual([{ jobId: id, slice: 1 }]);
    const checkpoint = first.kind === "advanced" ? first.job.checkpoint! : "";

    // Another job of the same key spends the rest of the budget meanwhile.
    await bill("inv_otherjob01", 10);
    const second = await slices.run({ jobId: id, slice: 1 });
    expect(second.kind).toBe("failed");
    const job = (await new JobStore(h.store).read(id))!.record;
    expect(job).toMatchObject({ status: "failed", step: 40, slice: 1, checkpoint, error: { code: "budget_exhausted" } });
    expect(job.error!.message).toMatch(/has used \d+\.\d of its 10 device seconds/);
    expect(job.finishedAt).not.toBeNull();
    // The checkpoint is still there and whole, so the job could be resumed from step 40.
    const stored = await h.store.get(checkpoint);
    expect(decodeCheckpoint(stored!.body, { expectedConfigHash: job.configHash }).step).toBe(40);
    expect(events.events).toEqual([
      [id, "inversion.started"],
      [id, "inversion.failed"],
    ]);
    // No successor, and the refused slice billed nothing.
    expect(dispatcher.calls).toEqual([{ jobId: id, slice: 1 }]);
    const usage = (await (await h.call(`/v1/inversions/${id}`, { key: capped.key })).json()) as { usage: { slices: number }; error: { code: string } };
    expect(usage).toMatchObject({ usage: { slices: 1 }, error: { code: "budget_exhausted" } });
    // A redelivery of the refused slice is stale: the job stays failed.
    expect((await slices.run({ jobId: id, slice: 1 })).kind).toBe("stale");
    // And creation answers 402 as before.
    const refused = await h.post("/v1/inversions", syntheticBody({ seed: 5 }), {}, capped.key);
    expect(refused.status).toBe(402);
    expect((await problem(refused)).code).toBe("budget_exhausted");
  });

  it("a queued job whose key ran out before its first slice fails without starting", async () => {
    const { h, capped, bill, dispatcher, events, slices } = await cappedSetup(5);
    const id = await createJob(h, capped.key);
    await bill("inv_otherjob02", 6);
    expect((await slices.run({ jobId: id, slice: 0 })).kind).toBe("failed");
    const job = (await new JobStore(h.store).read(id))!.record;
    expect(job).toMatchObject({ status: "failed", step: 0, checkpoint: null, startedAt: null, error: { code: "budget_exhausted" } });
    expect(events.events).toEqual([[id, "inversion.failed"]]);
    expect(dispatcher.calls).toEqual([]);
  });

  it("a key without a budget, and a key still under it, run every slice", async () => {
    const { h, capped, bill, slices } = await cappedSetup(1000);
    await bill("inv_otherjob03", 999);
    for (const key of [h.keyA, capped.key]) {
      const id = await createJob(h, key);
      for (let slice = 0; slice < 3; slice++) expect((await slices.run({ jobId: id, slice })).kind).toBe("advanced");
      expect((await new JobStore(h.store).read(id))!.record).toMatchObject({ status: "succeeded", step: 120 });
    }
  });
});
