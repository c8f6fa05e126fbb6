/**
 * POST /v1/inversions as multipart/form-data: a `config` JSON part plus the image files. The job
 * is the one the JSON path makes from the same images (same learned embedding, bit for bit);
 * every refusal (form shape, counts, sizes, bad images, service checks) stores nothing.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import { JobStore } from "../../../src/services/jobs/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { defaultObjectives } from "../../../src/services/slices/index.js";
import { MAX_UPLOAD_BYTES } from "../../../src/services/uploads/upload-service.js";
import { UsageLedger } from "../../../src/services/usage/index.js";
import { createHarness, problem, storedKeys, textualInversionBody, uploadConcept, type Harness } from "./harness.js";

const CONCEPT = "examples/concepts/arrow";
const models = defaultModelCatalog();

async function conceptFiles(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const names = (await readdir(CONCEPT)).filter((f) => f.endsWith(".png")).sort();
  return Promise.all(names.map(async (name) => ({ name, bytes: await readFile(join(CONCEPT, name)) })));
}

function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { images: _images, ...rest } = textualInversionBody([]);
  return { ...rest, ...overrides };
}

type Part = { name: string; value: string } | { name: string; file: Uint8Array; filename: string; type?: string };

function form(parts: Part[]): FormData {
  const data = new FormData();
  for (const part of parts) {
    if ("value" in part) data.append(part.name, part.value);
    else data.append(part.name, new Blob([new Uint8Array(part.file)], part.type === undefined ? {} : { type: part.type }), part.filename);
  }
  return data;
}

async function imageParts(): Promise<Part[]> {
  return (await conceptFiles()).map(({ name, bytes }) => ({ name: "images", file: bytes, filename: name, type: "image/png" }));
}

const postForm = (h: Harness, body: FormData, headers: Record<string, string> = {}, key?: string) =>
  h.call("/v1/inversions", { method: "POST", body, headers, ...(key === undefined ? {} : { key }) });

describe("POST /v1/inversions with multipart/form-data", () => {
  it("stores the images as the tenant's uploads and creates the job the JSON path creates (same embedding, bit for bit)", async () => {
    const store = new MemoryStore();
    const h = await createHarness({ store, objectives: defaultObjectives({ store, models }), budget: { maxSteps: 4, maxWallMs: 600_000 }, deps: { models } });
    const files = await conceptFiles();
    const response = await postForm(h, form([{ name: "config", value: JSON.stringify(config()) }, ...(await imageParts())]));
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const record = (await new JobStore(store).read(id))!.record;
    const keys = (record.config.objective as { images: string[] }).images;
    expect(keys).toHaveLength(files.length);
    for (const [i, key] of keys.entries()) {
      expect(key).toMatch(/^uploads\/tenant-a\/upl_t[0-9a-z]{9}[0-9a-f]{20}$/);
      expect(Buffer.from((await store.get(key))!.body).equals(files[i]!.bytes)).toBe(true);
    }
    expect(record.config.objective).toMatchObject({ kind: "textual-inversion", model: "tiny-sd", placeholderToken: "<arrow>", initializerToken: "circle", numVectors: 1 });

    const viaJson = await h.post("/v1/inversions", textualInversionBody(await uploadConcept(h)));
    expect(viaJson.status).toBe(202);
    const jsonId = ((await viaJson.json()) as { id: string }).id;
    await h.dispatcher.drain();
    const embedding = async (job: string) => {
      const got = await h.call(`/v1/inversions/${job}/embedding`);
      expect(got.status).toBe(200);
      return Buffer.from(await got.arrayBuffer());
    };
    expect((await embedding(id)).equals(await embedding(jsonId))).toBe(true);
  }, 120_000);

  it("takes the type from the bytes when a part declares none (curl -F without ;type=), and a config sent as a file part", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const files = (await conceptFiles()).slice(0, 3);
    const body = form([
      { name: "config", file: new TextEncoder().encode(JSON.stringify(config())), filename: "config.json", type: "application/json" },
      ...files.map((f, i) => ({ name: "images", file: f.bytes, filename: `${i}.bin` })),
    ]);
    const response = await postForm(h, body);
    expect(response.status).toBe(202);
    const uploads = (await storedKeys(h.store)).filter((k) => k.startsWith("uploads/"));
    expect(uploads).toHaveLength(3);
    expect(h.dispatched).toHaveLength(1);
  });

  it("honours Idempotency-Key: the same images and config give the same job and store nothing new; other images are a reuse", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const parts = [{ name: "config", value: JSON.stringify(config()) }, ...(await imageParts())];
    const first = await postForm(h, form(parts), { "idempotency-key": "multi-1" });
    expect(first.status).toBe(202);
    const stored = await storedKeys(h.store);
    const replay = await postForm(h, form(parts), { "idempotency-key": "multi-1" });
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect(await storedKeys(h.store)).toEqual(stored);
    const other = await postForm(h, form(parts.slice(0, 4)), { "idempotency-key": "multi-1" });
    expect(other.status).toBe(409);
    expect((await problem(other)).code).toBe("idempotency_key_reused");
    expect(await storedKeys(h.store)).toEqual(stored);
  });

  it("answers an Idempotency-Key replay with the original job even after the key's budget ran out; other images stay a reuse (409)", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const capped = await new ApiKeyRegistry(h.store).issue("tenant-a", "capped", undefined, { budgetSeconds: 1 });
    const parts = [{ name: "config", value: JSON.stringify(config()) }, ...(await imageParts())];
    const first = await postForm(h, form(parts), { "idempotency-key": "multi-budget" }, capped.key);
    expect(first.status).toBe(202);
    await new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId: "inv_elsewhere", slice: 0, steps: 1, device: "cpu", seconds: 2, recordedAt: "2026-01-01T00:00:00Z" });
    expect((await postForm(h, form(parts), { "idempotency-key": "multi-new" }, capped.key)).status).toBe(402);
    const stored = await storedKeys(h.store);
    const replay = await postForm(h, form(parts), { "idempotency-key": "multi-budget" }, capped.key);
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect(await storedKeys(h.store)).toEqual(stored);
    const other = await postForm(h, form(parts.slice(0, 4)), { "idempotency-key": "multi-budget" }, capped.key);
    expect(other.status).toBe(409);
    expect((await problem(other)).code).toBe("idempotency_key_reused");
    expect(await storedKeys(h.store)).toEqual(stored);
  });

  it("refuses bad forms, counts, sizes and images with their documented codes, storing nothing", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const [good] = await conceptFiles();
    const png = good!.bytes;
    const image = (over: Partial<{ file: Uint8Array; filename: string; type: string }> = {}): Part => ({ name: "images", file: png, filename: "x.png", type: "image/png", ...over });
    const cfg = (over: Record<string, unknown> = {}): Part => ({ name: "config", value: JSON.stringify(config(over)) });
    const gif = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
    // Three images (the engine's minimum) unless a case is about the count; bad images go first
    // or at a stated index, so each case fails for its own reason.
    const pad = (...images: Part[]): Part[] => [...images, ...Array.from({ length: Math.max(0, 3 - images.length) }, () => image())];
    const cases: Array<[string, Part[], number, string, string]> = [
      ["no config", pad(), 400, "validation_failed", "config"],
      ["two configs", [cfg(), cfg(), ...pad()], 400, "validation_failed", "config"],
      ["config not JSON", [{ name: "config", value: "{model:" }, ...pad()], 400, "validation_failed", "config"],
      ["config naming images", [cfg({ images: ["upl_00000000"] }), ...pad()], 400, "validation_failed", "config"],
      ["config for a synthetic job", [{ name: "config", value: JSON.stringify({ objective: "synthetic" }) }, ...pad()], 400, "validation_failed", "config.objective"],
      ["a negative learning rate", [cfg({ learning_rate: -1 }), ...pad()], 400, "validation_failed", "config.learning_rate"],
      ["0 images", [cfg()], 400, "validation_failed", "images"],
      ["2 images", [cfg(), image(), image()], 400, "validation_failed", "images"],
      ["11 images", [cfg(), ...Array.from({ length: 11 }, () => image())], 400, "validation_failed", "images"],
      ["an unknown part", [cfg(), ...pad(), { name: "extra", value: "1" }], 400, "validation_failed", "extra"],
      ["an image sent as text", [cfg(), { name: "images", value: "not a file" }, image(), image()], 400, "validation_failed", "images.0"],
      ["an image over 10 MB", [cfg(), ...pad(image(), image({ file: new Uint8Array(MAX_UPLOAD_BYTES + 1) }))], 413, "payload_too_large", 'images[1] ("x.png") has'],
      ["HTML named .png", [cfg(), ...pad(image({ file: new TextEncoder().encode("<html><body>hi</body></html>"), filename: "evil.png" }))], 422, "invalid_image", 'images[0] ("evil.png") refused'],
      ["a GIF", [cfg(), ...pad(image({ file: gif, filename: "a.gif", type: "image/gif" }))], 422, "invalid_image", "image/gif"],
      ["a truncated PNG", [cfg(), ...pad(image(), image({ file: png.subarray(0, png.length - 40) }))], 422, "invalid_image", 'images[1] ("x.png") refused'],
      ["a JPEG declared as PNG", [cfg(), ...pad(image({ file: await sharp(png).jpeg().toBuffer() }))], 422, "invalid_image", "image/jpeg"],
      ["an image smaller than half the model's resolution", [cfg(), ...pad(image({ file: await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer() }))], 422, "invalid_image", "8x8 is too small"],
      ["an unknown model", [cfg({ model: "sd-15" }), ...pad()], 422, "unknown_model", 'model "sd-15" is not served'],
      ["a placeholder already in the vocabulary", [cfg({ placeholder_token: "a" }), ...pad()], 422, "invalid_token", "already contains"],
      ["a private webhook", [cfg({ webhook: { url: "http://10.0.0.1/hook" } }), ...pad()], 422, "invalid_input", "webhook.url"],
    ];
    for (const [name, parts, status, code, mention] of cases) {
      const response = await postForm(h, form(parts));
      expect(response.status, name).toBe(status);
      const body = (await problem(response)) as { code: string; status: number; detail: string; errors?: Array<{ location: string; path: string }> };
      expect([response.status, body.code], name).toEqual([status, code]);
      const said = body.errors ? body.errors.map((e) => `${e.location}:${e.path}`).join(" ") : body.detail;
      expect(said, name).toContain(code === "validation_failed" ? `form:${mention}` : mention);
      expect(await storedKeys(h.store), name).toEqual([]);
    }
    expect(h.dispatched).toEqual([]);
  }, 60_000);

  it("names a refused image by its part (index and file name), never by the upload id the client did not see", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const [good] = await conceptFiles();
    const png = good!.bytes;
    const small = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    const part = (file: Uint8Array, filename: string): Part => ({ name: "images", file, filename, type: "image/png" });
    const send = async (images: Part[]) => {
      const response = await postForm(h, form([{ name: "config", value: JSON.stringify(config()) }, ...images]));
      expect(response.status).toBe(422);
      return problem(response);
    };

    // Too small for the model: found by the service's checks, after the form's.
    const tooSmall = await send([part(png, "a.png"), part(png, "b.png"), part(small, "cat.png")]);
    expect(tooSmall.code).toBe("invalid_image");
    expect(tooSmall.detail).toBe('images[2] ("cat.png"): 8x8 is too small: the shorter side must be at least 16 pixels');

    // Undecodable (truncated): found by the form's decode.
    const undecodable = await send([part(png, "a.png"), part(png.subarray(0, png.length - 40), "cut.png"), part(png, "c.png")]);
    expect(undecodable.code).toBe("invalid_image");
    expect(undecodable.detail).toMatch(/^images\[1\] \("cut\.png"\) refused: \S/);

    for (const { detail } of [tooSmall, undecodable]) expect(detail).not.toMatch(/upl_|upload "/);
    expect(await storedKeys(h.store)).toEqual([]);

    // The JSON path names the upload id the client sent.
    const uploaded = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: new Uint8Array(small) });
    expect(uploaded.status).toBe(201);
    const { id: smallId } = (await uploaded.json()) as { id: string };
    const viaJson = await h.post("/v1/inversions", textualInversionBody([...(await uploadConcept(h)).slice(0, 2), smallId]));
    expect(viaJson.status).toBe(422);
    expect((await problem(viaJson)).detail).toBe(`images: upload "${smallId}": 8x8 is too small: the shorter side must be at least 16 pixels`);
  }, 60_000);

  it("is refused (415) by a deployment without an image checker (the control plane without sharp), storing nothing", async () => {
    const h = await createHarness({ runSlices: false, deps: { models, inspectUpload: undefined } });
    const response = await postForm(h, form([{ name: "config", value: JSON.stringify(config()) }, ...(await imageParts())]));
    expect(response.status).toBe(415);
    expect((await problem(response)).detail).toContain("POST them to /v1/uploads");
    expect(await storedKeys(h.store)).toEqual([]);
  });

  it("refuses a body over the multipart limit (413), a malformed multipart body (400) and a key over budget (402), storing nothing", async () => {
    const h = await createHarness({ runSlices: false, deps: { models } });
    const [good] = await conceptFiles();
    const cfg = { name: "config", value: JSON.stringify(config()) };
    const many = Array.from({ length: 7 }, () => ({ name: "images", file: new Uint8Array(MAX_UPLOAD_BYTES - 1), filename: "big.png", type: "image/png" }));
    const tooBig = await postForm(h, form([cfg, ...many]));
    expect(tooBig.status).toBe(413);
    expect(await problem(tooBig)).toMatchObject({ code: "payload_too_large", detail: `multipart/form-data bodies are limited to ${64 * 1024 * 1024} bytes.` });
    expect(await storedKeys(h.store)).toEqual([]);

    const garbled = await h.call("/v1/inversions", { method: "POST", headers: { "content-type": "multipart/form-data; boundary=xyz" }, body: "--abc\r\nnonsense" });
    expect(garbled.status).toBe(400);
    expect((await problem(garbled)).code).toBe("bad_request");

    const registry = new ApiKeyRegistry(h.store);
    const capped = await registry.issue("tenant-a", "capped", undefined, { budgetSeconds: 1 });
    await new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId: "inv_earlier", slice: 0, steps: 1, device: "cpu", seconds: 2, recordedAt: "2026-01-01T00:00:00Z" });
    const before = await storedKeys(h.store);
    const goodImage = { name: "images", file: good!.bytes, filename: "a.png", type: "image/png" };
    const broke = await postForm(h, form([cfg, goodImage, goodImage, goodImage]), {}, capped.key);
    expect(broke.status).toBe(402);
    expect(await storedKeys(h.store)).toEqual(before);
    expect(before.every((k) => !k.startsWith("uploads/") && !k.startsWith("jobs/"))).toBe(true);
    expect(h.dispatched).toEqual([]);
  }, 60_000);
});
