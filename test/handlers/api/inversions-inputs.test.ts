/**
 * A job's own copies of its training images (`jobs/<id>/inputs/<n>`), written at creation: a
 * create that fails half-way leaves no job anyone can see and no copies a later identical
 * request would trip over (removed without an Idempotency-Key; reused, after a byte check, by
 * the retry under one).
 */
import { describe, expect, it } from "vitest";
import { MemoryStore, type CopyOptions, type PutOptions, type PutResult, type StoredObject } from "../../../src/ports/store/index.js";
import { jobInputKey, JobStore } from "../../../src/services/jobs/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { uploadKey } from "../../../src/services/uploads/upload-keys.js";
import { createHarness, problem, storedKeys, textualInversionBody, uploadConcept } from "./harness.js";

/** A MemoryStore whose next job-record writes fail, and whose chosen reads answer "absent". */
class FaultyStore extends MemoryStore {
  failRecordWrites = 0;
  /** Key -> how many more reads answer normally before the object reads as gone. */
  readonly vanishAfter = new Map<string, number>();

  override async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (this.failRecordWrites > 0 && /^jobs\/[^/]+\/record\.json$/.test(key)) {
      this.failRecordWrites--;
      throw new Error("store unavailable");
    }
    return super.put(key, body, options);
  }

  override async get(key: string): Promise<StoredObject | undefined> {
    return this.vanished(key) ? undefined : super.get(key);
  }

  override async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    return this.vanished(from) ? undefined : super.copy(from, to, options);
  }

  /** Counts a read of `key` (a get, or a copy from it); true once it reads as gone. */
  private vanished(key: string): boolean {
    const left = this.vanishAfter.get(key);
    if (left === undefined) return false;
    if (left === 0) return true;
    this.vanishAfter.set(key, left - 1);
    return false;
  }
}

const models = defaultModelCatalog();

async function setup() {
  const store = new FaultyStore();
  const errors: unknown[] = [];
  const h = await createHarness({ store, runSlices: false, deps: { models }, logError: (error) => errors.push(error) });
  const ids = (await uploadConcept(h)).slice(0, 3);
  const jobKeys = async () => (await storedKeys(store)).filter((k) => k.startsWith("jobs/"));
  const listed = async () => ((await (await h.call("/v1/inversions")).json()) as { data: unknown[] }).data;
  return { store, h, ids, errors, jobKeys, listed };
}

describe("POST /v1/inversions copies the training images into the job", () => {
  it("a create whose record write fails shows no job and removes its copies; the same request then succeeds", async () => {
    const { store, h, ids, errors, jobKeys, listed } = await setup();
    store.failRecordWrites = 1;
    const failed = await h.post("/v1/inversions", textualInversionBody(ids));
    expect(failed.status).toBe(500);
    expect((await problem(failed)).code).toBe("internal_error");
    expect(errors.map(String)).toEqual(["Error: store unavailable"]);
    expect(await jobKeys()).toEqual([]);
    expect(await listed()).toEqual([]);
    expect(h.dispatched).toEqual([]);

    const again = await h.post("/v1/inversions", textualInversionBody(ids));
    expect(again.status).toBe(202);
    const { id } = (await again.json()) as { id: string };
    expect(await jobKeys()).toEqual([...ids.map((_, i) => jobInputKey(id, i)), `jobs/${id}/record.json`]);
    for (const [i, upload] of ids.entries()) {
      expect(Buffer.from((await store.get(jobInputKey(id, i)))!.body).equals(Buffer.from((await store.get(uploadKey("tenant-a", upload)))!.body))).toBe(true);
    }
    expect(await listed()).toHaveLength(1);
  });

  it("an upload deleted between the check and its copy: 422 upload_missing, and the copies made before it are removed", async () => {
    const { store, h, ids, jobKeys, listed } = await setup();
    // The creation check reads it once; the copy's read finds it gone.
    store.vanishAfter.set(uploadKey("tenant-a", ids[2]!), 1);
    const refused = await h.post("/v1/inversions", textualInversionBody(ids));
    expect(refused.status).toBe(422);
    const body = await problem(refused);
    expect(body.code).toBe("upload_missing");
    expect(body.detail).toContain(`upload "${ids[2]}" does not exist`);
    expect(await jobKeys()).toEqual([]);
    expect(await listed()).toEqual([]);
    expect(h.dispatched).toEqual([]);
  });

  it("under an Idempotency-Key the copies of a failed create stay for its retry, which checks and reuses them", async () => {
    const { store, h, ids, jobKeys, listed } = await setup();
    store.failRecordWrites = 1;
    const failed = await h.post("/v1/inversions", textualInversionBody(ids), { "idempotency-key": "snap-1" });
    expect(failed.status).toBe(500);
    expect(await listed()).toEqual([]);
    const left = await jobKeys();
    expect(left).toHaveLength(3);
    const jobId = left[0]!.split("/")[1]!;
    expect(left).toEqual(ids.map((_, i) => jobInputKey(jobId, i)));

    const retry = await h.post("/v1/inversions", textualInversionBody(ids), { "idempotency-key": "snap-1" });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { id: string }).id).toBe(jobId);
    expect(await jobKeys()).toEqual([...left, `jobs/${jobId}/record.json`]);
    const objective = (await new JobStore(store).read(jobId))!.record.config.objective as { inputs: string[] };
    expect(objective.inputs).toEqual(left);
    expect(h.dispatched).toEqual([{ jobId, slice: 0 }]);
  });

  it("a copy under the job's key that holds other bytes is not trained on: the create fails (500) and writes no record", async () => {
    const { store, h, ids, errors, jobKeys, listed } = await setup();
    store.failRecordWrites = 1;
    expect((await h.post("/v1/inversions", textualInversionBody(ids), { "idempotency-key": "snap-2" })).status).toBe(500);
    const jobId = (await jobKeys())[0]!.split("/")[1]!;
    await store.delete(jobInputKey(jobId, 1));
    await store.put(jobInputKey(jobId, 1), new Uint8Array([1, 2, 3]));
    const retry = await h.post("/v1/inversions", textualInversionBody(ids), { "idempotency-key": "snap-2" });
    expect(retry.status).toBe(500);
    expect(String(errors.at(-1))).toContain(`the existing copy ${jobInputKey(jobId, 1)} does not hold the bytes of ${uploadKey("tenant-a", ids[1]!)}`);
    expect(await store.get(`jobs/${jobId}/record.json`)).toBeUndefined();
    expect(await listed()).toEqual([]);
  });
});
