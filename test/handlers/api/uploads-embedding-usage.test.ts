import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeEmbedding, encodeA1111Embedding, encodeDiffusersEmbedding } from "../../../src/engine/embeddings/formats.js";
import { EMBEDDING_OUTPUTS } from "../../../src/services/inversions/job-view.js";
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
    expect(await storedKeys(h.store)).toEqual([`tenants/tenant-a/uploads/${body.id}`]);
    expect(Buffer.from((await h.store.get(`tenants/tenant-a/uploads/${body.id}`))!.body).equals(bytes)).toBe(true);
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

/** Writes the final parameters as both embedding formats, as the engine's writer will. */
const embeddingWriter: OutputWriter = async ({ store, job, state, attempt }) => {
  const embedding = { token: "<toy>", numVectors: 1, hiddenSize: state.params.length, vectors: state.params, step: state.step };
  const keys: Record<string, string> = {};
  for (const [format, encode] of [["diffusers", encodeDiffusersEmbedding], ["a1111", encodeA1111Embedding]] as const) {
    const key = `${outputsPrefix(job.id, attempt)}${format}.safetensors`;
    await store.put(key, encode(embedding), { ifNoneMatch: "*" });
    keys[EMBEDDING_OUTPUTS[format]] = key;
  }
  return keys;
};

describe("GET /v1/inversions/{id}/embedding", () => {
  it("serves the finished job's embedding in both formats", async () => {
    const h = await createHarness({ outputs: embeddingWriter });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as { embedding_formats: string[]; step: number };
    expect(job.embedding_formats).toEqual(["diffusers", "a1111"]);
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
