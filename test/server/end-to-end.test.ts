/**
 * Issue 6's end-to-end check on the real parts of the embedded default: `dvar serve`'s server
 * (filesystem store, in-process slices) trains a textual_inversion job on the bundled model,
 * created over HTTP from uploads of a bundled concept; a webhook receiver on 127.0.0.1 gets an
 * `inversion.succeeded` that verifies with the standardwebhooks reference package; both
 * embedding downloads parse (the engine's loader and an independent safetensors header read),
 * and the embedding draws through POST /v1/generations.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { decodeEmbedding } from "../../src/engine/embeddings/index.js";
import { FsStore } from "../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../src/services/auth/index.js";
import { startEmbeddedServer } from "../../src/server/embedded.js";
import { Receiver } from "../support/webhook-receiver.js";

const CONCEPT = "examples/concepts/arrow";
const dir = mkdtempSync(join(tmpdir(), "dvar-e2e-"));
const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The tensors a safetensors file declares, read from its header without the project's codec. */
function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  delete header.__metadata__;
  return header as ReturnType<typeof safetensorsHeader>;
}

describe("a textual_inversion job end to end on the embedded server", () => {
  it("trains on the bundled model, announces a verified inversion.succeeded, and its embedding downloads, loads and draws", async () => {
    const { key } = await new ApiKeyRegistry(new FsStore({ root: dir })).issue("dev", "e2e");
    const receiver = new Receiver();
    await receiver.start();
    cleanups.push(() => receiver.close());
    const server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "4" }, allowPrivateWebhooks: true, log: () => {} });
    cleanups.push(() => server.close());
    const auth = { authorization: `Bearer ${key}` };
    const api = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });

    const images: string[] = [];
    for (const file of readdirSync(CONCEPT).filter((f) => f.endsWith(".png")).sort().slice(0, 3)) {
      const upload = await api("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(join(CONCEPT, file)) });
      expect(upload.status).toBe(201);
      images.push(((await upload.json()) as { id: string }).id);
    }
    const created = await api("/v1/inversions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        objective: "textual_inversion",
        model: "tiny-sd",
        placeholder_token: "<arrow>",
        initializer_token: "triangle",
        images,
        seed: 3,
        max_steps: 10,
        stopping: { name: "fixed", steps: 10 },
        webhook: { url: receiver.url, events: ["inversion.succeeded"] },
      }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    const deadline = Date.now() + 120_000;
    while (!receiver.types().includes("inversion.succeeded")) {
      if (Date.now() > deadline) throw new Error("no inversion.succeeded within 120 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    // The filter asked for .succeeded only; it verifies with the tenant's secret.
    expect(receiver.types()).toEqual(["inversion.succeeded"]);
    const secret = ((await (await api("/v1/webhook-secret")).json()) as { secret: string }).secret;
    const delivered = receiver.received.find((r) => r.answered === 204)!;
    const event = new Webhook(secret).verify(delivered.body, delivered.headers) as { type: string; data: { id: string; status: string; step: number } };
    expect(event).toMatchObject({ type: "inversion.succeeded", data: { id, status: "succeeded", step: 10 } });

    const job = (await (await api(`/v1/inversions/${id}`)).json()) as { status: string; step: number; usage: { slices: number }; embedding_formats: string[] };
    expect(job).toMatchObject({ status: "succeeded", step: 10 });
    expect(job.usage.slices).toBe(3); // slices of 4, 4 and 2 updates
    expect([...job.embedding_formats].sort()).toEqual(["a1111", "a1111-pt", "diffusers"]);

    const diffusers = new Uint8Array(await (await api(`/v1/inversions/${id}/embedding?format=diffusers`)).arrayBuffer());
    const a1111 = new Uint8Array(await (await api(`/v1/inversions/${id}/embedding?format=a1111`)).arrayBuffer());
    expect(safetensorsHeader(diffusers)).toEqual({ "<arrow>": { dtype: "F32", shape: [1, 64], data_offsets: [0, 256] } });
    expect(Object.keys(safetensorsHeader(a1111))).toEqual(["emb_params"]);
    const loaded = decodeEmbedding(diffusers);
    expect(loaded.embedding).toMatchObject({ token: "<arrow>", numVectors: 1, hiddenSize: 64 });
    expect(loaded.embedding.vectors.every(Number.isFinite)).toBe(true);
    expect(Buffer.from(decodeEmbedding(a1111).embedding.vectors.buffer).equals(Buffer.from(loaded.embedding.vectors.buffer))).toBe(true);
    const pt = decodeEmbedding(new Uint8Array(await (await api(`/v1/inversions/${id}/embedding?format=a1111-pt`)).arrayBuffer()));
    expect(pt.embedding).toMatchObject({ token: "arrow", step: 10, numVectors: 1, hiddenSize: 64 });
    expect(Buffer.from(pt.embedding.vectors.buffer).equals(Buffer.from(loaded.embedding.vectors.buffer))).toBe(true);

    const generated = await api("/v1/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inversion_id: id, prompt: "a photo of a <arrow>", n: 1, steps: 5, seed: 1 }),
    });
    expect(generated.status).toBe(201);
    const generation = (await generated.json()) as { id: string; images: Array<{ url: string }> };
    const png = Buffer.from(await (await api(new URL(generation.images[0]!.url, server.url).pathname)).arrayBuffer());
    expect(await sharp(png).metadata()).toMatchObject({ format: "png", width: 32, height: 32 });
  }, 180_000);
});
