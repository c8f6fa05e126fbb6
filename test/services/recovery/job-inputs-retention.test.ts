/**
 * A job's copies of its training images (`jobs/<id>/inputs/`) go when the job ends: the recovery
 * sweep deletes them for succeeded, canceled and failed jobs, never for queued or running ones
 * (a job between slices included), and deletes the copies of a create that died before its
 * record once they are a day old. Jobs are created through the real API; a fake clock drives
 * the sweep; record transitions the slices would make are written with JobStore.advance.
 */
import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/ports/clock.js";
import { MemoryStore, type PutOptions, type PutResult } from "../../../src/ports/store/index.js";
import { activeJobKey, JobStore, jobInputKeys, jobLatentKeys, jobLatentsPrefix, markJobActive, type JobRecord } from "../../../src/services/jobs/index.js";
import { JobSweeper, SLICE_RETRIES_EXHAUSTED } from "../../../src/services/recovery/index.js";
import { createHarness, storedKeys, textualInversionBody, uploadConcept } from "../../handlers/api/harness.js";

const T0 = Date.parse("2026-03-01T00:00:00Z");
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

class ManualClock implements Clock {
  constructor(public ms: number) {}
  now = () => this.ms;
  sleep = async (ms: number) => void (this.ms += ms);
}

/** A MemoryStore whose next job-record writes fail (a create that dies after copying); `beforeDelete` runs inside a delete. */
class FailingRecordStore extends MemoryStore {
  failRecordWrites = 0;
  beforeDelete?: (key: string) => Promise<void>;
  override async delete(key: string): Promise<void> {
    const hook = this.beforeDelete;
    if (hook) await hook(key);
    return super.delete(key);
  }
  override async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (this.failRecordWrites > 0 && /^jobs\/[^/]+\/record\.json$/.test(key)) {
      this.failRecordWrites--;
      throw new Error("store unavailable");
    }
    return super.put(key, body, options);
  }
}

async function setup() {
  const clock = new ManualClock(T0);
  const store = new FailingRecordStore();
  const h = await createHarness({ store, runSlices: false, deps: { clock }, logError: () => {} });
  const uploaded = await uploadConcept(h);
  const ids = uploaded.slice(0, 3);
  const sweeper = new JobSweeper({ store, dispatcher: h.dispatcher, clock, policy: { maxRedispatches: 1 } });
  const jobs = new JobStore(store);
  const create = async (headers: Record<string, string> = {}) => {
    const response = await h.post("/v1/inversions", textualInversionBody(ids), headers);
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(await jobInputKeys(store, id)).toHaveLength(3);
    return id;
  };
  /** Writes the record as a slice or the API would (revision bumped by advance). */
  const advance = async (id: string, change: (record: JobRecord) => Partial<JobRecord>) => {
    const current = (await jobs.read(id))!;
    expect(await jobs.advance(current, { ...current.record, ...change(current.record), updatedAt: new Date(clock.now()).toISOString() })).toBeDefined();
  };
  const marked = async (id: string) => (await store.get(activeJobKey(id))) !== undefined;
  return { clock, store, h, uploaded, ids, sweeper, jobs, create, advance, marked };
}

describe("the recovery sweep deletes a job's inputs when the job ends", () => {
  it("keeps them while queued, running and between slices; deletes them once succeeded; a second pass is harmless", async () => {
    const s = await setup();
    const id = await s.create();
    const at = (ms: number) => new Date(ms).toISOString();
    expect((await s.sweeper.sweep()).inputsDeleted).toEqual([]);
    await s.advance(id, () => ({ status: "running", startedAt: at(s.clock.now()), lease: { slice: 0, attempt: "a", startedAt: at(s.clock.now()), expiresAt: at(s.clock.now() + 5 * MIN) } }));
    s.clock.ms += MIN;
    expect((await s.sweeper.sweep()).inputsDeleted).toEqual([]);
    // Between slices: slice 0 advanced (and stored its latent cache), slice 1 dispatched and not started.
    await s.store.put(`${jobLatentsPrefix(id)}0123abcd.safetensors`, new Uint8Array([1, 2, 3]), { ifNoneMatch: "*" });
    await s.advance(id, () => ({ slice: 1, step: 4, lease: null }));
    s.clock.ms += MIN;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [], cleared: 0 });
    expect(await jobInputKeys(s.store, id)).toHaveLength(3);
    expect(await jobLatentKeys(s.store, id)).toHaveLength(1);

    await s.advance(id, () => ({ status: "succeeded", finishedAt: at(s.clock.now()) }));
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [id], cleared: 1, errors: [] });
    expect(await jobInputKeys(s.store, id)).toEqual([]);
    expect(await jobLatentKeys(s.store, id)).toEqual([]); // the latents decode back to the images
    expect(await s.marked(id)).toBe(false);
    // The record and the uploads are untouched.
    expect((await s.jobs.read(id))!.record.status).toBe("succeeded");
    expect((await storedKeys(s.store)).filter((k) => k.startsWith("uploads/"))).toHaveLength(s.uploaded.length);
    expect(await s.sweeper.sweep()).toMatchObject({ checked: 0, inputsDeleted: [], cleared: 0, errors: [] });
  });

  it("deletes them after a cancel, and only that job's", async () => {
    const s = await setup();
    const canceled = await s.create();
    const other = await s.create();
    expect((await s.h.call(`/v1/inversions/${canceled}/cancel`, { method: "POST" })).status).toBe(200);
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [canceled], cleared: 1 });
    expect(await jobInputKeys(s.store, canceled)).toEqual([]);
    expect(await jobInputKeys(s.store, other)).toHaveLength(3);
    expect(await s.marked(other)).toBe(true);
  });

  it("waits for the lease of a job canceled under a running slice before deleting (the slice may still write latents)", async () => {
    const s = await setup();
    const id = await s.create();
    const at = (ms: number) => new Date(ms).toISOString();
    const expiresAt = s.clock.now() + 5 * MIN;
    await s.advance(id, () => ({ status: "running", startedAt: at(s.clock.now()), lease: { slice: 0, attempt: "a", startedAt: at(s.clock.now()), expiresAt: at(expiresAt) } }));
    expect((await s.h.call(`/v1/inversions/${id}/cancel`, { method: "POST" })).status).toBe(200);
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [], cleared: 0, nextDueAt: expiresAt });
    // The slice, still in its start-up, stores its latent cache after the cancel.
    await s.store.put(`${jobLatentsPrefix(id)}feed.safetensors`, new Uint8Array([1]), { ifNoneMatch: "*" });
    s.clock.ms = expiresAt;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [id], cleared: 1 });
    expect([...(await jobInputKeys(s.store, id)), ...(await jobLatentKeys(s.store, id))]).toEqual([]);
  });

  it("deletes them when the sweep fails the job (slice retries exhausted), and after a failure a slice wrote", async () => {
    const s = await setup();
    const exhausted = await s.create();
    const failedBySlice = await s.create();
    const at = new Date(T0).toISOString();
    // Slice 0 died after its one allowed redispatch: its lease has expired.
    await s.advance(exhausted, () => ({ status: "running", lease: { slice: 0, attempt: "b", startedAt: at, expiresAt: new Date(T0 + MIN).toISOString() }, redispatch: { slice: 0, count: 1, at } }));
    await s.advance(failedBySlice, () => ({ status: "failed", error: { code: "invalid_image", message: "x" }, finishedAt: at }));
    s.clock.ms = T0 + 2 * DAY;
    const pass = await s.sweeper.sweep();
    expect(pass.failed).toEqual([exhausted]);
    expect((await s.jobs.read(exhausted))!.record.error?.code).toBe(SLICE_RETRIES_EXHAUSTED);
    expect(pass.inputsDeleted.sort()).toEqual([exhausted, failedBySlice].sort());
    expect(await jobInputKeys(s.store, exhausted)).toEqual([]);
    expect(await jobInputKeys(s.store, failedBySlice)).toEqual([]);
    expect(await s.sweeper.sweep()).toMatchObject({ checked: 0, inputsDeleted: [] });
  });
});

describe("copies of a create that died before its record", () => {
  it("without an Idempotency-Key the create removes its copies and its marker itself", async () => {
    const s = await setup();
    s.store.failRecordWrites = 1;
    expect((await s.h.post("/v1/inversions", textualInversionBody(s.ids))).status).toBe(500);
    expect((await storedKeys(s.store)).filter((k) => k.startsWith("jobs/") || k.startsWith("active-jobs/"))).toEqual([]);
  });

  it("are deleted by the sweep a day after the create marked the job, not before; a retry under the key afterwards copies them again", async () => {
    const s = await setup();
    s.store.failRecordWrites = 1;
    expect((await s.h.post("/v1/inversions", textualInversionBody(s.ids), { "idempotency-key": "k1" })).status).toBe(500);
    const left = (await storedKeys(s.store)).filter((k) => k.startsWith("jobs/"));
    expect(left).toHaveLength(3);
    const id = left[0]!.split("/")[1]!;
    expect(await s.marked(id)).toBe(true);

    // Past the 1-hour orphan-marker age the marker stays while it guards copies.
    s.clock.ms = T0 + 2 * 60 * MIN;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [], cleared: 0, nextDueAt: T0 + DAY });
    s.clock.ms = T0 + DAY - 1;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [], cleared: 0 });
    expect(await jobInputKeys(s.store, id)).toHaveLength(3);
    s.clock.ms = T0 + DAY;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [id], cleared: 1 });
    expect(await jobInputKeys(s.store, id)).toEqual([]);
    expect(await jobLatentKeys(s.store, id)).toEqual([]); // the latents decode back to the images
    expect(await s.marked(id)).toBe(false);
    expect(await s.sweeper.sweep()).toMatchObject({ checked: 0, inputsDeleted: [] });

    // The retry (uploads issued at T0 are still usable for new jobs until T0 + 6 days).
    const retry = await s.h.post("/v1/inversions", textualInversionBody(s.ids), { "idempotency-key": "k1" });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { id: string }).id).toBe(id);
    expect(await jobInputKeys(s.store, id)).toHaveLength(3);
    expect(await s.marked(id)).toBe(true);
  });

  it("a retry that writes the record while the sweep removes the orphan's marker keeps its job marked", async () => {
    const s = await setup();
    s.store.failRecordWrites = 1;
    expect((await s.h.post("/v1/inversions", textualInversionBody(s.ids), { "idempotency-key": "k2" })).status).toBe(500);
    const id = (await storedKeys(s.store)).find((k) => k.startsWith("jobs/"))!.split("/")[1]!;
    s.clock.ms = T0 + DAY;
    // The retry lands between the sweep's last record read and its marker delete.
    s.store.beforeDelete = async (key) => {
      if (key !== activeJobKey(id)) return;
      s.store.beforeDelete = undefined;
      expect((await s.h.post("/v1/inversions", textualInversionBody(s.ids), { "idempotency-key": "k2" })).status).toBe(202);
    };
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [id], cleared: 0, errors: [] });
    expect((await s.jobs.read(id))!.record.status).toBe("queued");
    expect(await s.marked(id)).toBe(true); // the sweep sees the job again
    expect(await jobInputKeys(s.store, id)).toHaveLength(3); // the retry copied them again
  });

  it("a marker without a record and without copies still goes after an hour", async () => {
    const s = await setup();
    await markJobActive(s.store, "inv_000000000000000000000000", new Date(T0));
    s.clock.ms = T0 + 60 * MIN;
    expect(await s.sweeper.sweep()).toMatchObject({ inputsDeleted: [], cleared: 1 });
  });
});
