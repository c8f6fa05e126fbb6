/**
 * A textual_inversion job end to end through the API on the bundled tiny model: uploads of the
 * bundled "arrow" concept, a job of 6 fixed steps run in slices of 2 (each slice rebuilds the
 * objective from the job config), the three embedding downloads (the .pt also through torch.load),
 * and bit-identity with the same job run in one slice.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { decodeEmbedding } from "../../../src/engine/embeddings/index.js";
import { LatentCache } from "../../../src/engine/inversion/latents.js";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { defaultObjectives, StoreSliceService } from "../../../src/services/slices/index.js";
import { latentsPrefix } from "../../../src/services/slices/textual-inversion.js";
import { configHash, parseInversionConfig } from "../../../src/core/inversion/config.js";
import { jobInputKey, JobStore } from "../../../src/services/jobs/index.js";
import { uploadKey } from "../../../src/services/uploads/upload-keys.js";
import { HAS_TORCH, TORCH_SKIP_NOTE, torchLoadA1111Pt } from "../../support/torch-load.js";
import { createHarness, problem, storedKeys } from "./harness.js";

const CONCEPT = "examples/concepts/arrow";
const STEPS = 6;
const NUM_VECTORS = 2;

function jobBody(images: string[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    objective: "textual_inversion",
    model: "tiny-sd",
    placeholder_token: "<arrow>",
    initializer_token: "circle",
    num_vectors: NUM_VECTORS,
    images,
    seed: 11,
    max_steps: STEPS,
    stopping: { name: "fixed", steps: STEPS },
    ...overrides,
  };
}

/** Runs the job with `sliceSteps` per slice; returns the job resource, its dispatches and the three downloads. */
async function runJob(sliceSteps: number) {
  const store = new MemoryStore();
  const models = defaultModelCatalog();
  const h = await createHarness({ store, objectives: defaultObjectives({ store, models }), budget: { maxSteps: sliceSteps, maxWallMs: 600_000 }, deps: { models } });
  const files = (await readdir(CONCEPT)).filter((f) => f.endsWith(".png")).sort();
  const ids: string[] = [];
  for (const file of files) {
    const response = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: await readFile(join(CONCEPT, file)) });
    expect(response.status).toBe(201);
    ids.push(((await response.json()) as { id: string }).id);
  }
  const created = await h.post("/v1/inversions", jobBody(ids));
  expect(created.status).toBe(202);
  const { id } = (await created.json()) as { id: string };
  await h.dispatcher.drain();
  const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as Record<string, any>;
  expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
  const download = async (format: string) => {
    const response = await h.call(`/v1/inversions/${id}/embedding?format=${format}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    return { name: response.headers.get("content-disposition"), bytes: new Uint8Array(await response.arrayBuffer()) };
  };
  return {
    h,
    job,
    slices: h.dispatched.filter((d) => d.jobId === id).length,
    diffusers: await download("diffusers"),
    a1111: await download("a1111"),
    a1111Pt: await download("a1111-pt"),
  };
}

/** The job run in slices of 2, once for every test that reads it. */
let slicedRun: ReturnType<typeof runJob> | undefined;
const runSliced = () => (slicedRun ??= runJob(2));

describe("textual_inversion jobs on the bundled model", () => {
  it("refuses a model it does not serve at creation (422) and stores nothing", async () => {
    const store = new MemoryStore();
    const h = await createHarness({ store, runSlices: false, deps: { models: defaultModelCatalog() } });
    const response = await h.post("/v1/inversions", jobBody(["upl_00000000", "upl_00000001", "upl_00000002"], { model: "sd-15" }));
    expect(response.status).toBe(422);
    const body = await problem(response);
    expect(body.code).toBe("unknown_model");
    expect(body.detail).toContain('model "sd-15" is not served here (available: tiny-sd)');
    expect(await storedKeys(store)).toEqual([]);
  });

  it("runs in slices of 2 steps, serves the three embedding formats, and equals a one-slice run bit for bit", async () => {
    const sliced = await runSliced();
    expect(sliced.job.status, JSON.stringify(sliced.job.error)).toBe("succeeded");
    expect(sliced.job.step).toBe(STEPS);
    expect(sliced.slices).toBe(STEPS / 2);
    expect(sliced.job.embedding_formats).toEqual(["diffusers", "a1111", "a1111-pt"]);

    const diffusers = decodeEmbedding(sliced.diffusers.bytes);
    expect(diffusers.format).toBe("diffusers");
    expect(diffusers.embedding).toMatchObject({ token: "<arrow>", numVectors: NUM_VECTORS, hiddenSize: 64 });
    const a1111 = decodeEmbedding(sliced.a1111.bytes);
    expect(a1111.format).toBe("a1111");
    expect(a1111.embedding).toMatchObject({ numVectors: NUM_VECTORS, hiddenSize: 64 });
    expect(sliced.a1111.name).toBe('attachment; filename="arrow.safetensors"');
    expect(Buffer.from(a1111.embedding.vectors.buffer).equals(Buffer.from(diffusers.embedding.vectors.buffer))).toBe(true);
    expect(diffusers.embedding.vectors.every(Number.isFinite)).toBe(true);
    // A1111's own .pt, read back with the project's torch.save reader: same name, step and vectors.
    const pt = decodeEmbedding(sliced.a1111Pt.bytes);
    expect(pt.format).toBe("a1111");
    expect(pt.embedding).toMatchObject({ token: "arrow", step: STEPS, numVectors: NUM_VECTORS, hiddenSize: 64 });
    expect(sliced.a1111Pt.name).toBe('attachment; filename="arrow.pt"');
    expect(Buffer.from(pt.embedding.vectors.buffer).equals(Buffer.from(diffusers.embedding.vectors.buffer))).toBe(true);

    const whole = await runJob(STEPS);
    expect(whole.job.status).toBe("succeeded");
    expect(whole.slices).toBe(1);
    const reference = decodeEmbedding(whole.diffusers.bytes).embedding.vectors;
    // Training moved the vectors away from the initializer's (both vectors start equal).
    expect(Buffer.from(reference.slice(0, 64).buffer).equals(Buffer.from(reference.slice(64).buffer))).toBe(false);
    expect(Buffer.from(diffusers.embedding.vectors.buffer).equals(Buffer.from(reference.buffer))).toBe(true);
    expect(Buffer.from(sliced.diffusers.bytes).equals(Buffer.from(whole.diffusers.bytes))).toBe(true);
    expect(Buffer.from(sliced.a1111.bytes).equals(Buffer.from(whole.a1111.bytes))).toBe(true);
    expect(Buffer.from(sliced.a1111Pt.bytes).equals(Buffer.from(whole.a1111Pt.bytes))).toBe(true);
  }, 120_000);
});

describe.skipIf(!HAS_TORCH)(`the served .pt in torch.load${TORCH_SKIP_NOTE}`, () => {
  it("passes A1111's safe-loader checks and holds the diffusers file's values, the name and the step", async () => {
    const sliced = await runSliced();
    const dir = await mkdtemp(join(tmpdir(), "served-pt-"));
    try {
      const path = join(dir, "arrow.pt");
      await writeFile(path, sliced.a1111Pt.bytes);
      const loaded = torchLoadA1111Pt(path);
      const diffusers = decodeEmbedding(sliced.diffusers.bytes).embedding.vectors;
      expect(loaded).toMatchObject({ type: "dict", string_to_token: { "*": 265 }, name: "arrow", step: STEPS, dtype: "torch.float32", shape: [NUM_VECTORS, 64] });
      // float32 -> double in Python, then JSON: exact, so equality is bit-for-bit.
      expect(loaded.values).toEqual(Array.from(diffusers));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function latentObjects(store: Store, jobId: string): Promise<Array<{ key: string; bytes: Uint8Array }>> {
  const page = await store.list(latentsPrefix(jobId));
  return Promise.all(page.entries.map(async ({ key }) => ({ key, bytes: (await store.get(key))!.body })));
}

/**
 * The job of runJob, run slice by slice by hand (2 steps each), with `afterCreate` called once
 * the job is created (before any slice) and `between` after slice 0, so a test can remove the
 * uploads or change the stored latent cache; returns the diffusers embedding.
 */
async function runSlicesByHand(between: (store: Store, jobId: string) => Promise<void>, afterCreate: (store: Store, jobId: string, uploadIds: string[]) => Promise<void> = async () => {}) {
  const store = new MemoryStore();
  const models = defaultModelCatalog();
  const h = await createHarness({ store, runSlices: false, deps: { models } });
  const slices = new StoreSliceService({ store, dispatcher: { dispatch: async (i) => ({ ...i, dispatcher: "inprocess", duplicate: false }) }, objectives: defaultObjectives({ store, models }), budget: { maxSteps: 2 }, device: "cpu" });
  const files = (await readdir(CONCEPT)).filter((f) => f.endsWith(".png")).sort();
  const ids: string[] = [];
  for (const file of files) {
    const response = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: await readFile(join(CONCEPT, file)) });
    ids.push(((await response.json()) as { id: string }).id);
  }
  const { id } = (await (await h.post("/v1/inversions", jobBody(ids))).json()) as { id: string };
  await afterCreate(store, id, ids);
  expect((await slices.run({ jobId: id, slice: 0 })).kind).toBe("advanced");
  const first = await latentObjects(store, id);
  await between(store, id);
  for (const slice of [1, 2]) expect((await slices.run({ jobId: id, slice })).kind).toBe("advanced");
  const response = await h.call(`/v1/inversions/${id}/embedding?format=diffusers`);
  expect(response.status).toBe(200);
  return { store, id, first, embedding: new Uint8Array(await response.arrayBuffer()) };
}

describe("the latent cache across slices", () => {
  it("the first slice stores it (named by its hash); later slices read it instead of encoding; a corrupt one is detected and rebuilt", async () => {
    const reference = (await runJob(STEPS)).diffusers.bytes;

    // Untouched: one object, named by the SHA-256 of its bytes, and the result equals the one-slice run.
    const plain = await runSlicesByHand(async () => {});
    expect(plain.first).toHaveLength(1);
    expect(plain.first[0]!.key).toBe(`${latentsPrefix(plain.id)}${sha256(plain.first[0]!.bytes)}.safetensors`);
    expect(await latentObjects(plain.store, plain.id)).toEqual(plain.first);
    expect(Buffer.from(plain.embedding).equals(Buffer.from(reference))).toBe(true);

    // Later slices use what is stored: a well-formed cache with shifted means (stored under its
    // own hash, the original removed) changes the result, which re-encoding would not.
    const shifted = await runSlicesByHand(async (store, jobId) => {
      const [original] = await latentObjects(store, jobId);
      const source = decodeSafetensors(original!.bytes).metadata.source!;
      const cache = LatentCache.decode(original!.bytes, source);
      for (const image of cache.images) for (const d of [image.plain, image.flipped]) d?.mean.forEach((v, i, m) => (m[i] = v + 0.5));
      const bytes = cache.encode(source);
      await store.delete(original!.key);
      await store.put(`${latentsPrefix(jobId)}${sha256(bytes)}.safetensors`, bytes, { ifNoneMatch: "*" });
    });
    expect(Buffer.from(shifted.embedding).equals(Buffer.from(reference))).toBe(false);

    // A flipped byte no longer matches the name: the object is deleted, the latents are encoded
    // again (the same bytes, so the same name) and the result still equals the one-slice run.
    const corrupt = await runSlicesByHand(async (store, jobId) => {
      const [original] = await latentObjects(store, jobId);
      const bytes = original!.bytes.slice();
      bytes[bytes.length - 3]! ^= 0x40;
      await store.delete(original!.key);
      await store.put(original!.key, bytes);
    });
    expect(Buffer.from(corrupt.embedding).equals(Buffer.from(reference))).toBe(true);
    const after = await latentObjects(corrupt.store, corrupt.id);
    expect(after).toHaveLength(1);
    expect(after[0]!.key).toBe(corrupt.first[0]!.key);
    expect(sha256(after[0]!.bytes)).toBe(sha256(corrupt.first[0]!.bytes));
  }, 120_000);
});

describe("the job's own copies of its training images", () => {
  it("a job whose uploads are deleted right after creation trains on its copies to the byte-identical embedding", async () => {
    const kept = await runSlicesByHand(async () => {});
    const deleted = await runSlicesByHand(async () => {}, async (store, jobId, uploadIds) => {
      const objective = (await new JobStore(store).read(jobId))!.record.config.objective as { images: string[]; inputs: string[] };
      expect(objective.images).toEqual(uploadIds.map((id) => uploadKey("tenant-a", id)));
      expect(objective.inputs).toEqual(uploadIds.map((_, i) => jobInputKey(jobId, i)));
      for (const [i, key] of objective.images.entries()) {
        expect(Buffer.from((await store.get(objective.inputs[i]!))!.body).equals(Buffer.from((await store.get(key))!.body))).toBe(true);
        await store.delete(key);
      }
      expect((await store.list("uploads/")).entries).toEqual([]);
    });
    expect(Buffer.from(deleted.embedding).equals(Buffer.from(kept.embedding))).toBe(true);
    // The three slices all read the copies (the latents were encoded once, by slice 0).
    expect(deleted.first).toHaveLength(1);
  }, 120_000);

  it("a job whose copies are gone (the orphan sweep raced a retried create) reads the uploads they came from, to the same embedding", async () => {
    const kept = await runSlicesByHand(async () => {});
    const lostCopies = await runSlicesByHand(async () => {}, async (store, jobId) => {
      const objective = (await new JobStore(store).read(jobId))!.record.config.objective as { inputs: string[] };
      for (const key of objective.inputs) await store.delete(key);
    });
    expect(Buffer.from(lostCopies.embedding).equals(Buffer.from(kept.embedding))).toBe(true);
  }, 120_000);

  it("a job created before the copies existed (no inputs in its config) still reads its uploads, to the same embedding", async () => {
    const kept = await runSlicesByHand(async () => {});
    const old = await runSlicesByHand(async () => {}, async (store, jobId) => {
      // Rewrite the record as it was written before copies: config without inputs, and no copies.
      const jobs = new JobStore(store);
      const job = (await jobs.read(jobId))!;
      const { inputs, ...objective } = job.record.config.objective as { inputs: string[] };
      for (const key of inputs) await store.delete(key);
      const config = parseInversionConfig({ ...job.record.config, objective });
      expect(await jobs.advance(job, { ...job.record, config: { ...config }, configHash: configHash(config) })).toBeDefined();
    });
    expect(Buffer.from(old.embedding).equals(Buffer.from(kept.embedding))).toBe(true);
  }, 120_000);
});

describe("textual_inversion jobs the engine refuses", () => {
  // The API refuses such a request at creation when it has the model catalog (see
  // bad-input.test.ts); a control plane without it accepts the job, and the slice fails it.
  it("fails the job with a clear code when the initializer word is not one token and creation could not check it", async () => {
    const store = new MemoryStore();
    const h = await createHarness({ store, objectives: defaultObjectives({ store, models: defaultModelCatalog() }) });
    const ids: string[] = [];
    for (const file of ["00.png", "01.png", "02.png"]) {
      const upload = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: await readFile(join(CONCEPT, file)) });
      ids.push(((await upload.json()) as { id: string }).id);
    }
    const created = await h.post("/v1/inversions", jobBody(ids, { initializer_token: "cat" }));
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as Record<string, any>;
    expect(job.status).toBe("failed");
    expect(job.error.code).toBe("invalid_token");
    expect(job.error.message).toContain('the initializer word "cat" must be a single token');
  });
});
