/**
 * POST /v1/generations end to end on the bundled model: a textual_inversion job created and run
 * over HTTP, then images drawn with its learned token. Checks the PNGs (decoded with sharp, at
 * the model's resolution), seeds (same seed, same bytes; image i is seed + i), equality with the
 * engine run directly on the downloaded embedding, tenants, states, bad input, idempotency,
 * metering and the budget.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEmbedding } from "../../../src/engine/embeddings/index.js";
import { generateImages } from "../../../src/engine/generate/pipeline.js";
import { pngBytes } from "../../../src/engine/generate/png.js";
import { openModelFolder } from "../../../src/engine/model/folder.js";
import { MemoryStore } from "../../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import { cachedImageGenerator } from "../../../src/services/generations/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { defaultObjectives } from "../../../src/services/slices/index.js";
import { UsageLedger } from "../../../src/services/usage/index.js";
import { createHarness, problem, storedKeys, syntheticBody, textualInversionBody, uploadConcept, type Harness } from "./harness.js";

interface Generation {
  id: string;
  status: string;
  inversion_id: string;
  model: string;
  n: number;
  steps: number;
  scheduler: string;
  seed: number;
  images: Array<{ index: number; seed: number; width: number; height: number; url: string }>;
  usage: { steps: number; seconds: number };
  warnings: string[];
}

const models = defaultModelCatalog();
const resolution = openModelFolder(models.resolve("tiny-sd")).resolution;
let h: Harness;
let store: MemoryStore;
let jobId: string;
// The embedded server's generator (sessions kept open); harnesses made below use the default,
// which opens them per call.
const generator = cachedImageGenerator();
afterAll(() => generator.close());

beforeAll(async () => {
  store = new MemoryStore();
  h = await createHarness({ store, objectives: defaultObjectives({ store, models }), budget: { maxSteps: 4, maxWallMs: 600_000 }, deps: { models, generator } });
  const created = await h.post("/v1/inversions", textualInversionBody(await uploadConcept(h)));
  expect(created.status).toBe(202);
  jobId = ((await created.json()) as { id: string }).id;
  await h.dispatcher.drain();
  const job = (await (await h.call(`/v1/inversions/${jobId}`)).json()) as { status: string; error: unknown; placeholder_token: string | null };
  expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
  // The resource names the token a generation's prompt must contain.
  expect(job.placeholder_token).toBe("<arrow>");
}, 120_000);

const generate = (body: Record<string, unknown>, headers: Record<string, string> = {}, key?: string) =>
  h.post("/v1/generations", { inversion_id: jobId, prompt: "a photo of <arrow>", ...body }, headers, key);

async function imageBytes(url: string, key?: string): Promise<Buffer> {
  const response = await h.call(url, key === undefined ? {} : { key });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("image/png");
  return Buffer.from(await response.arrayBuffer());
}

describe("POST /v1/generations", () => {
  it("draws PNGs at the model's resolution with the job's token; the same seed gives the same bytes; image i is seed + i", async () => {
    const response = await generate({ n: 2, steps: 4, seed: 5, scheduler: "euler", guidance: 5 });
    expect(response.status).toBe(201);
    const first = (await response.json()) as Generation;
    expect(response.headers.get("location")).toBe(`/v1/generations/${first.id}`);
    expect(first).toMatchObject({ status: "succeeded", inversion_id: jobId, model: "tiny-sd", n: 2, steps: 4, scheduler: "euler", seed: 5, usage: { steps: 8 } });
    expect(first.id).toMatch(/^gen_/);
    expect(first.images.map((i) => [i.index, i.seed, i.width, i.height, i.url])).toEqual([
      [0, 5, resolution, resolution, `/v1/generations/${first.id}/images/0`],
      [1, 6, resolution, resolution, `/v1/generations/${first.id}/images/1`],
    ]);
    const bytes = await Promise.all(first.images.map((i) => imageBytes(i.url)));
    for (const png of bytes) {
      const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect(decoded.info).toMatchObject({ format: "raw", width: resolution, height: resolution, channels: 3 });
      // Not a blank image: the pixels vary.
      expect(new Set(decoded.data).size).toBeGreaterThan(10);
    }
    expect(bytes[0]!.equals(bytes[1]!)).toBe(false);

    const again = (await (await generate({ n: 2, steps: 4, seed: 5, scheduler: "euler", guidance: 5 })).json()) as Generation;
    expect(again.id).not.toBe(first.id);
    const againBytes = await Promise.all(again.images.map((i) => imageBytes(i.url)));
    expect(againBytes.map((b) => b.toString("base64"))).toEqual(bytes.map((b) => b.toString("base64")));

    const shifted = (await (await generate({ n: 1, steps: 4, seed: 6, scheduler: "euler", guidance: 5 })).json()) as Generation;
    expect((await imageBytes(shifted.images[0]!.url)).equals(bytes[1]!)).toBe(true);

    const fetched = await h.call(`/v1/generations/${first.id}`);
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toEqual(first);
  }, 60_000);

  it("draws what the engine draws from the downloaded embedding (the job's learned vectors, its model)", async () => {
    const request = { prompt: "a rendering of a <arrow>", negative_prompt: "blurry", n: 1, steps: 3, guidance: 7.5, seed: 21, scheduler: "ddim" };
    const generation = (await (await generate(request)).json()) as Generation;
    expect(generation.status).toBe("succeeded");
    const embedding = decodeEmbedding(new Uint8Array(await (await h.call(`/v1/inversions/${jobId}/embedding`)).arrayBuffer())).embedding;
    const direct = await generateImages(openModelFolder(models.resolve("tiny-sd")), {
      prompt: request.prompt, negativePrompt: request.negative_prompt, n: 1, steps: 3, guidance: 7.5, seed: 21, sampler: "ddim", embedding,
    });
    expect((await imageBytes(generation.images[0]!.url)).equals(await pngBytes(direct.images[0]!))).toBe(true);
    // Without the learned vectors (the initializer's word instead) the picture differs.
    const plain = await generateImages(openModelFolder(models.resolve("tiny-sd")), { prompt: "a rendering of a circle", negativePrompt: "blurry", n: 1, steps: 3, guidance: 7.5, seed: 21, sampler: "ddim" });
    expect((await imageBytes(generation.images[0]!.url)).equals(await pngBytes(plain.images[0]!))).toBe(false);
  }, 60_000);

  it("uses the model's default sampler when none is asked for, and says DDIM stands in for its DDPM config", async () => {
    const generation = (await (await generate({ n: 1, steps: 2 })).json()) as Generation;
    expect(generation).toMatchObject({ status: "succeeded", scheduler: "ddim", steps: 2 });
    expect(generation.warnings.join(" ")).toContain("DDPMScheduler");
  }, 30_000);

  it("refuses a prompt without the job's token (422, naming the token) and bad parameters (400), storing nothing", async () => {
    const before = await storedKeys(store);
    const missing = await generate({ prompt: "a photo of an arrow" });
    expect(missing.status).toBe(422);
    const body = await problem(missing);
    expect(body.code).toBe("invalid_input");
    expect(body.detail).toContain("placeholder token <arrow>");
    for (const bad of [{ n: 0 }, { n: 9 }, { steps: 0 }, { steps: 151 }, { scheduler: "lms" }, { guidance: 0.5 }, { seed: -1 }, { prompt: "" }, { extra: 1 }]) {
      const response = await generate(bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect((await problem(response)).code).toBe("validation_failed");
    }
    const noJob = await h.post("/v1/generations", { prompt: "a photo of <arrow>" });
    expect(noJob.status).toBe(400);
    expect(await storedKeys(store)).toEqual(before);
  });

  it("answers 404 for another tenant's job and generation, and for a missing image", async () => {
    const mine = (await (await generate({ n: 1, steps: 2 })).json()) as Generation;
    const before = await storedKeys(store);
    const foreign = await generate({ n: 1, steps: 2 }, {}, h.keyB);
    expect(foreign.status).toBe(404);
    expect((await problem(foreign)).code).toBe("not_found");
    expect(await storedKeys(store)).toEqual(before);
    for (const path of [`/v1/generations/${mine.id}`, `/v1/generations/${mine.id}/images/0`]) {
      const response = await h.call(path, { key: h.keyB });
      expect(response.status, path).toBe(404);
      expect((await problem(response)).code).toBe("not_found");
    }
    expect((await h.call(`/v1/generations/${mine.id}/images/1`)).status).toBe(404);
    expect((await h.call(`/v1/generations/${mine.id}/images/8`)).status).toBe(404);
    expect((await h.call(`/v1/generations/${mine.id}/images/-1`)).status).toBe(400);
    expect((await h.call(`/v1/generations/${mine.id}/images/01`)).status).toBe(400);
    expect((await h.call("/v1/generations/gen_doesnotexist0")).status).toBe(404);
  }, 30_000);

  it("answers 409 conflict for a job that has not succeeded and for a job without an embedding", async () => {
    // A second API on the same store whose slices never run: its job stays queued.
    const idle = await createHarness({ store, runSlices: false, deps: { models } });
    const queued = ((await (await idle.post("/v1/inversions", textualInversionBody(await uploadConcept(idle)))).json()) as { id: string }).id;
    const before = await storedKeys(store);
    const early = await idle.post("/v1/generations", { inversion_id: queued, prompt: "a photo of <arrow>" });
    expect(early.status).toBe(409);
    const body = await problem(early);
    expect(body.code).toBe("conflict");
    expect(body.detail).toContain("has not succeeded (it is queued)");
    expect(await storedKeys(store)).toEqual(before);

    const syntheticJob = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string; placeholder_token: string | null };
    expect(syntheticJob.placeholder_token).toBeNull();
    const synthetic = syntheticJob.id;
    await h.dispatcher.drain();
    const none = await h.post("/v1/generations", { inversion_id: synthetic, prompt: "a photo of <arrow>" });
    expect(none.status).toBe(409);
    expect((await problem(none)).detail).toContain("learned no embedding");
  }, 30_000);

  it("honours Idempotency-Key: same body, same generation (billed once); other body, 409", async () => {
    const usage = async () => (await (await h.call("/v1/usage")).json()) as { generations: number; steps: number; jobs: number; slices: number };
    const start = await usage();
    const first = await generate({ n: 1, steps: 2, seed: 3 }, { "idempotency-key": "gen-key-1" });
    expect(first.status).toBe(201);
    const created = (await first.json()) as Generation;
    const replay = await generate({ n: 1, steps: 2, seed: 3 }, { "idempotency-key": "gen-key-1" });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as Generation).id).toBe(created.id);
    const reused = await generate({ n: 1, steps: 2, seed: 4 }, { "idempotency-key": "gen-key-1" });
    expect(reused.status).toBe(409);
    expect((await problem(reused)).code).toBe("idempotency_key_reused");
    // One generation of 1 image x 2 steps was billed; inversion jobs and slices are unchanged.
    const end = await usage();
    expect(end.generations - start.generations).toBe(1);
    expect(end.steps - start.steps).toBe(2);
    expect([end.jobs, end.slices]).toEqual([start.jobs, start.slices]);
  }, 30_000);

  it("answers a replayed Idempotency-Key before any other check: after the key's budget ran out, 201 with the same generation; another body under the key 409", async () => {
    const capped = await new ApiKeyRegistry(store).issue("tenant-a", "capped-replay", undefined, { budgetSeconds: 1000 });
    const request = { n: 1, steps: 2, seed: 31 };
    const first = await generate(request, { "idempotency-key": "gen-budget-1" }, capped.key);
    expect(first.status).toBe(201);
    const created = (await first.json()) as Generation;

    await new UsageLedger(store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId: "inv_elsewhere", slice: 0, steps: 1, device: "cpu", seconds: 1000, recordedAt: "2026-01-01T00:00:00Z" });
    const fresh = await generate(request, { "idempotency-key": "gen-budget-2" }, capped.key);
    expect(fresh.status).toBe(402);
    expect((await problem(fresh)).code).toBe("budget_exhausted");

    // The replay answers what the first request answered, draws nothing and stores nothing new.
    const before = await storedKeys(store);
    const replay = await generate(request, { "idempotency-key": "gen-budget-1" }, capped.key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("location")).toBe(`/v1/generations/${created.id}`);
    expect(await replay.json()).toEqual(created);
    expect(await storedKeys(store)).toEqual(before);

    // Another body under the key is a reuse (409), not a budget refusal; a key never used gets 402.
    const reused = await generate({ ...request, seed: 32 }, { "idempotency-key": "gen-budget-1" }, capped.key);
    expect(reused.status).toBe(409);
    expect((await problem(reused)).code).toBe("idempotency_key_reused");
    expect((await generate(request, { "idempotency-key": "gen-budget-3" }, capped.key)).status).toBe(402);
    expect(await storedKeys(store)).toEqual(before);
  }, 30_000);

  it("bills each generation as a usage record of kind generation (steps = n x steps) shown by GET /v1/usage", async () => {
    const fresh = await createHarness({ store, deps: { models } });
    const registry = new ApiKeyRegistry(store);
    const { key, record } = await registry.issue("tenant-a", "metered");
    const generation = (await (await fresh.post("/v1/generations", { inversion_id: jobId, prompt: "a photo of <arrow>", n: 3, steps: 2 }, {}, key)).json()) as Generation;
    expect(generation.usage.steps).toBe(6);
    const records = await store.list(`usage/tenant-a/${record.keyId}/`);
    expect(records.entries.map((e) => e.key)).toEqual([`usage/tenant-a/${record.keyId}/${generation.id}/000000`]);
    const stored = JSON.parse(new TextDecoder().decode((await store.get(records.entries[0]!.key))!.body)) as Record<string, unknown>;
    expect(stored).toMatchObject({ kind: "generation", jobId: generation.id, steps: 6, device: "cpu", seconds: generation.usage.seconds });
    const usage = (await (await fresh.call(`/v1/usage?key_id=${record.keyId}`)).json()) as Record<string, any>;
    expect(usage).toMatchObject({ generations: 1, slices: 0, jobs: 0, steps: 6, seconds: generation.usage.seconds });
    expect(usage.by_device.cpu).toEqual({ slices: 0, generations: 1, steps: 6, seconds: generation.usage.seconds });
  }, 30_000);

  it("marks a generation whose drawing fails as failed (500 for the request; GET shows it; no images)", async () => {
    const id = "gen_drawingfails01";
    const generator = { generate: async () => { throw new Error("device lost"); }, close: async () => {} };
    const logged: unknown[] = [];
    const newId = (prefix: string) => (prefix === "gen" ? id : `${prefix}_0123456789abcdef`);
    const broken = await createHarness({ store, deps: { models, generator, newId }, logError: (error) => logged.push(error) });
    const response = await broken.post("/v1/generations", { inversion_id: jobId, prompt: "a photo of <arrow>", n: 1, steps: 2 });
    expect(response.status).toBe(500);
    expect((await problem(response)).detail).not.toContain("device lost");
    expect(logged.map(String)).toEqual(["Error: device lost"]);
    const failed = (await (await broken.call(`/v1/generations/${id}`)).json()) as Generation & { error: { code: string } };
    expect(failed).toMatchObject({ status: "failed", images: [], error: { code: "generation_failed" } });
    const image = await broken.call(`/v1/generations/${id}/images/0`);
    expect(image.status).toBe(409);
    expect((await store.list(`tenants/tenant-a/generations/${id}/`)).entries.map((e) => e.key)).toEqual([`tenants/tenant-a/generations/${id}/record.json`]);
  });

  it("answers 402 once the key's budget is used, storing nothing", async () => {
    const registry = new ApiKeyRegistry(store);
    const capped = await registry.issue("tenant-a", "capped", undefined, { budgetSeconds: 5 });
    await new UsageLedger(store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId: "inv_earlier", slice: 0, steps: 10, device: "cpu", seconds: 5, recordedAt: "2026-01-01T00:00:00Z" });
    const before = await storedKeys(store);
    const refused = await generate({ n: 1, steps: 2 }, {}, capped.key);
    expect(refused.status).toBe(402);
    expect((await problem(refused)).code).toBe("budget_exhausted");
    expect(await storedKeys(store)).toEqual(before);
  });
});
