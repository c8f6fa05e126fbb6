import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeEmbedding, encodeA1111Embedding, encodeA1111PtEmbedding, encodeDiffusersEmbedding } from "../../../src/engine/embeddings/formats.js";
import { EMBEDDING_EXTENSIONS, EMBEDDING_OUTPUTS, type EmbeddingFormat } from "../../../src/services/inversions/embedding-formats.js";
import { outputsPrefix, type OutputWriter } from "../../../src/services/slices/index.js";
import { createHarness, problem, storedKeys, syntheticBody } from "./harness.js";

const png = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();

const upload = (h: Awaited<ReturnType<typeof createHarness>>, type: string, body: Uint8Array | string) =>
  h.call("/v1/uploads", { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : Buffer.from(body) });

describe("POST /v1/uploads (embedded mode)", () => {
  it("stores an image under the tenant and answers its id, size and hash", async () => {
    const h = await createHarness({ runSlices: false });
    const bytes = await png(64, 48);
    const response = await upload(h, "image/png", bytes);
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ object: "upload", content_type: "image/png", bytes: bytes.length, width: 64, height: 48 });
    expect(await storedKeys(h.store)).toEqual([`uploads/tenant-a/${body.id}`]);
    expect(Buffer.from((await h.store.get(`uploads/tenant-a/${body.id}`))!.body).equals(bytes)).toBe(true);
  });

  it("refuses HTML named as a PNG, a JPEG sent as PNG, a truncated PNG, an empty body, a text body and a huge image", async () => {
    const h = await createHarness({ runSlices: false });
    const good = await png(32, 32);
    const jpeg = await sharp(good).jpeg().toBuffer();
    const cases: Array<[string, Uint8Array | string, number, string]> = [
      ["image/png", "<html><body>hi</body></html>", 422, "invalid_image"],
      ["image/png", jpeg, 422, "invalid_image"],
      ["image/png", good.subarray(0, good.length - 30), 422, "invalid_image"],
      ["image/png", new Uint8Array(0), 422, "invalid_image"],
      ["text/plain", "hello", 415, "unsupported_media_type"],
      ["image/png", await sharp({ create: { width: 8000, height: 7000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png({ compressionLevel: 9 }).toBuffer(), 422, "invalid_image"],
    ];
    for (const [type, body, status, code] of cases) {
      const response = await upload(h, type, body);
      expect(response.status, `${type} ${String(body).slice(0, 20)}`).toBe(status);
      expect((await problem(response)).code).toBe(code);
    }
    const big = await upload(h, "image/png", new Uint8Array(10 * 1024 * 1024 + 1));
    expect(big.status).toBe(413);
    expect(await storedKeys(h.store)).toEqual([]);
  });
});

const ENCODERS = { diffusers: encodeDiffusersEmbedding, a1111: encodeA1111Embedding, "a1111-pt": encodeA1111PtEmbedding } as const;

/**
 * Writes the final parameters in the given embedding formats, as the engine's writer does (the
 * real one runs in textual-inversion.test.ts); fewer formats stand for a job finished before the
 * others were written.
 */
const embeddingWriter =
  (formats: readonly EmbeddingFormat[]): OutputWriter =>
  async ({ store, job, state, attempt }) => {
    const embedding = { token: "<toy>", numVectors: 1, hiddenSize: state.params.length, vectors: state.params, step: state.step };
    const keys: Record<string, string> = {};
    for (const format of formats) {
      const key = `${outputsPrefix(job.id, attempt)}${format}${EMBEDDING_EXTENSIONS[format]}`;
      await store.put(key, ENCODERS[format](embedding), { ifNoneMatch: "*" });
      keys[EMBEDDING_OUTPUTS[format]] = key;
    }
    return keys;
  };

describe("GET /v1/inversions/{id}/embedding", () => {
  it("serves the finished job's embedding in the three formats", async () => {
    const h = await createHarness({ outputs: embeddingWriter(["diffusers", "a1111", "a1111-pt"]) });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as { embedding_formats: string[]; step: number };
    expect(job.embedding_formats).toEqual(["diffusers", "a1111", "a1111-pt"]);
    const diffusers = await h.call(`/v1/inversions/${id}/embedding`);
    expect(diffusers.status).toBe(200);
    expect(diffusers.headers.get("content-disposition")).toContain("learned_embeds.safetensors");
    const decoded = decodeEmbedding(new Uint8Array(await diffusers.arrayBuffer()));
    expect(decoded.format).toBe("diffusers");
    expect(decoded.embedding.token).toBe("<toy>");
    expect(decoded.embedding.vectors).toHaveLength(8);
    const a1111 = await h.call(`/v1/inversions/${id}/embedding?format=a1111`);
    expect(a1111.status).toBe(200);
    const a = decodeEmbedding(new Uint8Array(await a1111.arrayBuffer()), { a1111Name: "toy" });
    expect(a.format).toBe("a1111");
    expect(a.embedding.vectors).toEqual(decoded.embedding.vectors);
    const pt = await h.call(`/v1/inversions/${id}/embedding?format=a1111-pt`);
    expect(pt.status).toBe(200);
    expect(pt.headers.get("content-type")).toBe("application/octet-stream");
    // The synthetic config has no placeholder token: the A1111 fallback name, with the .pt extension.
    expect(pt.headers.get("content-disposition")).toBe('attachment; filename="embedding.pt"');
    const p = decodeEmbedding(new Uint8Array(await pt.arrayBuffer()));
    expect(p).toMatchObject({ format: "a1111", embedding: { token: "<toy>", step: job.step, numVectors: 1, hiddenSize: 8 } });
    expect(p.embedding.vectors).toEqual(decoded.embedding.vectors);
  });

  it("answers 409 for the .pt of a job finished before that format was written, naming the formats it has", async () => {
    const h = await createHarness({ outputs: embeddingWriter(["diffusers", "a1111"]) });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as { embedding_formats: string[] };
    expect(job.embedding_formats).toEqual(["diffusers", "a1111"]);
    const pt = await h.call(`/v1/inversions/${id}/embedding?format=a1111-pt`);
    expect(pt.status).toBe(409);
    const body = await problem(pt);
    expect(body.code).toBe("conflict");
    expect(body.detail).toBe("This job has no a1111-pt embedding: it finished before that format was written. It has: diffusers, a1111.");
    expect((await h.call(`/v1/inversions/${id}/embedding?format=a1111`)).status).toBe(200);
  });

  it("answers 409 before the job has succeeded, and for a job without that output; 400 for an unknown format", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    const early = await h.call(`/v1/inversions/${id}/embedding`);
    expect(early.status).toBe(409);
    expect((await problem(early)).detail).toContain("queued");
    expect((await h.call(`/v1/inversions/${id}/embedding?format=pt`)).status).toBe(400);
    const done = await createHarness();
    const { id: plain } = (await (await done.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await done.dispatcher.drain();
    const none = await done.call(`/v1/inversions/${plain}/embedding`);
    expect(none.status).toBe(409);
    expect((await problem(none)).detail).toContain("no diffusers embedding");
    const nonePt = await done.call(`/v1/inversions/${plain}/embedding?format=a1111-pt`);
    expect(nonePt.status).toBe(409);
    expect((await problem(nonePt)).detail).toContain("no a1111-pt embedding (a synthetic job has only raw parameters)");
  });
});

describe("GET /v1/usage", () => {
  it("sums the tenant's billed slices and nothing of other tenants", async () => {
    const h = await createHarness();
    await h.post("/v1/inversions", syntheticBody());
    await h.post("/v1/inversions", syntheticBody({ seed: 9, max_steps: 30, stopping: { name: "fixed", steps: 30 } }));
    await h.post("/v1/inversions", syntheticBody(), {}, h.keyB);
    await h.dispatcher.drain();
    const usage = (await (await h.call("/v1/usage")).json()) as Record<string, any>;
    expect(usage).toMatchObject({ object: "usage", jobs: 2, slices: 3, steps: 90 });
    expect(usage.by_device.cpu.steps).toBe(90);
    expect(Object.keys(usage.by_key)).toHaveLength(1);
    const future = (await (await h.call("/v1/usage?from=2999-01-01T00:00:00Z")).json()) as { steps: number };
    expect(future.steps).toBe(0);
    expect((await h.call("/v1/usage?from=yesterday")).status).toBe(400);
    const other = (await (await h.call("/v1/usage", { key: h.keyB })).json()) as { steps: number };
    expect(other.steps).toBe(60);
  });
});
