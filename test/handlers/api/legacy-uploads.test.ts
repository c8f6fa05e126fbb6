/**
 * Uploads issued before the `uploads/<t>/<id>` layout sit at `tenants/<t>/uploads/<id>` with ids
 * that carry no time. A new job naming them finds them there (creation checks, the copy into the
 * job) and trains to the end; the new key wins when both exist; timed ids never fall back.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/ports/store/index.js";
import { JobStore, jobInputKey } from "../../../src/services/jobs/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { defaultObjectives } from "../../../src/services/slices/index.js";
import { legacyUploadKey, newUploadId, uploadKey } from "../../../src/services/uploads/upload-keys.js";
import { findUploadKey } from "../../../src/services/uploads/upload-lookup.js";
import { createHarness, problem, textualInversionBody } from "./harness.js";

const CONCEPT = "examples/concepts/arrow";

async function conceptImages(): Promise<Uint8Array[]> {
  const files = (await readdir(CONCEPT)).filter((f) => f.endsWith(".png")).sort();
  return Promise.all(files.slice(0, 3).map(async (f) => new Uint8Array(await readFile(join(CONCEPT, f)))));
}

describe("uploads at the old key (tenants/<t>/uploads/<id>)", () => {
  it("start a job that copies them, records where they came from, and finishes (also with a copy gone)", async () => {
    const store = new MemoryStore();
    const models = defaultModelCatalog();
    const h = await createHarness({ store, objectives: defaultObjectives({ store, models }), budget: { maxSteps: 2, maxWallMs: 600_000 }, deps: { models } });
    const images = await conceptImages();
    // Random hex ids, as issued before ids carried their time.
    const ids = ["upl_0a1b2c3d4e5f60718293a4b5", "upl_1a1b2c3d4e5f60718293a4b5", "upl_2a1b2c3d4e5f60718293a4b5"];
    for (const [i, id] of ids.entries()) await store.put(legacyUploadKey("tenant-a", id), images[i]!, { contentType: "image/png" });

    const created = await h.post("/v1/inversions", textualInversionBody(ids));
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    for (const [i, bytes] of images.entries()) expect(Buffer.from((await store.get(jobInputKey(id, i)))!.body).equals(Buffer.from(bytes))).toBe(true);
    // The record names the keys the copies came from, where a slice looks when a copy is gone.
    const created0 = (await new JobStore(store).read(id))!.record;
    expect((created0.config.objective as { images: string[] }).images).toEqual(ids.map((upload) => legacyUploadKey("tenant-a", upload)));
    await store.delete(jobInputKey(id, 0));
    await h.dispatcher.drain();
    const job = (await new JobStore(store).read(id))!.record;
    expect(job).toMatchObject({ status: "succeeded", step: 4 });
    expect(job.outputs).not.toBeNull();
    // Nothing was written at the new keys, and the old uploads are untouched.
    for (const upload of ids) expect(await store.get(uploadKey("tenant-a", upload))).toBeUndefined();
    for (const [i, upload] of ids.entries()) expect(Buffer.from((await store.get(legacyUploadKey("tenant-a", upload)))!.body).equals(Buffer.from(images[i]!))).toBe(true);
  });

  it("is found only for ids without a time, only in the caller's tenant, and only when the new key is absent", async () => {
    const store = new MemoryStore();
    const old = "upl_0a1b2c3d4e5f60718293a4b5";
    const timed = newUploadId(Date.parse("2026-03-01T00:00:00Z"));
    await store.put(legacyUploadKey("tenant-a", old), new Uint8Array([1]));
    await store.put(legacyUploadKey("tenant-a", timed), new Uint8Array([1]));
    expect(await findUploadKey(store, "tenant-a", old)).toBe(legacyUploadKey("tenant-a", old));
    expect(await findUploadKey(store, "tenant-b", old)).toBeUndefined();
    expect(await findUploadKey(store, "tenant-a", timed)).toBeUndefined();
    await store.put(uploadKey("tenant-a", old), new Uint8Array([2]));
    expect(await findUploadKey(store, "tenant-a", old)).toBe(uploadKey("tenant-a", old));
  });

  it("another tenant's old upload answers 422 upload_missing", async () => {
    const store = new MemoryStore();
    const h = await createHarness({ store, runSlices: false, deps: { models: defaultModelCatalog() } });
    const images = await conceptImages();
    const ids = ["upl_0a1b2c3d4e5f60718293a4b5", "upl_1a1b2c3d4e5f60718293a4b5", "upl_2a1b2c3d4e5f60718293a4b5"];
    for (const [i, id] of ids.entries()) await store.put(legacyUploadKey("tenant-b", id), images[i]!);
    const refused = await h.post("/v1/inversions", textualInversionBody(ids));
    expect(refused.status).toBe(422);
    expect((await problem(refused)).code).toBe("upload_missing");
  });
});
