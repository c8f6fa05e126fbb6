/**
 * The bad-input table: every case is a request to the real app (bundled tiny-sd model, model
 * catalog, the textual-inversion objective registered), answered with the status and `code`
 * docs/API.md documents, and nothing in the store changes (every key and ETag is the same
 * before and after) and nothing is dispatched.
 *
 * Uploads that reach the store without passing POST /v1/uploads (S3 mode: the client PUTs the
 * bytes to a presigned URL, which the API never sees) are written straight into the store by
 * the fixture; the job that names them is refused at creation, before the first slice.
 */
import { readFile } from "node:fs/promises";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { JobStore, newJobRecord } from "../../../src/services/jobs/index.js";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { defaultObjectives } from "../../../src/services/slices/index.js";
import { uploadKey } from "../../../src/services/uploads/upload-keys.js";
import { createHarness, problem, syntheticBody, type Harness } from "./harness.js";

const CONCEPT = "examples/concepts/arrow";

/** Bytes backed by a plain ArrayBuffer (what fetch bodies accept). */
type Bytes = Uint8Array<ArrayBuffer>;

/** A PNG whose header claims width x height, with almost no pixel data: cheap to make, impossible to decode. */
function pngClaiming(width: number, height: number): Bytes {
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed) >>> 0);
    return Buffer.concat([length, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.alloc(16))), chunk("IEND", Buffer.alloc(0))]));
}

interface Fixture {
  h: Harness;
  /** Three good uploads of tenant A (the arrow concept). */
  good: string[];
  /** Uploads written straight into tenant A's store area (S3 mode), by what is wrong with them. */
  raw: Record<"corrupt" | "html" | "huge" | "tiny" | "gif", string>;
  /** An upload of tenant B. */
  otherTenantUpload: string;
  finishedJob: string;
  queuedJob: string;
  bytes: { good: Bytes; html: Bytes; huge: Bytes };
}

async function upload(h: Harness, bytes: Bytes, key = h.keyA): Promise<string> {
  const response = await h.call("/v1/uploads", { method: "POST", key, headers: { "content-type": "image/png" }, body: bytes });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function buildFixture(): Promise<Fixture> {
  const store = new MemoryStore();
  const models = defaultModelCatalog();
  const h = await createHarness({ store, objectives: defaultObjectives({ store, models }), deps: { models } });
  const good: string[] = [];
  for (const file of ["00.png", "01.png", "02.png"]) good.push(await upload(h, new Uint8Array(await readFile(`${CONCEPT}/${file}`))));
  const goodBytes = new Uint8Array(await readFile(`${CONCEPT}/00.png`));
  const html = new Uint8Array(Buffer.from("<!doctype html><html><body>not an image</body></html>"));
  const huge = pngClaiming(8000, 6250); // 50 megapixels in 70 bytes
  const rawBytes = {
    corrupt: goodBytes.subarray(0, goodBytes.length - 40),
    html,
    huge,
    tiny: new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer()),
    gif: new Uint8Array(await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 1, g: 2, b: 3 } } }).gif().toBuffer()),
  };
  const raw = {} as Fixture["raw"];
  for (const [name, bytes] of Object.entries(rawBytes)) {
    const id = `upl_raw${name}0000`;
    await store.put(uploadKey("tenant-a", id), bytes, { ifNoneMatch: "*" });
    raw[name as keyof Fixture["raw"]] = id;
  }
  const otherTenantUpload = await upload(h, goodBytes, h.keyB);

  const finished = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
  await h.dispatcher.drain();
  expect(((await (await h.call(`/v1/inversions/${finished.id}`)).json()) as { status: string }).status).toBe("succeeded");
  // A job that has not run yet, written directly so no slice picks it up.
  const queued = newJobRecord({ id: "inv_queued0000000000000000", tenantId: "tenant-a", keyId: "key_0000000000000000", config: { seed: 1, maxSteps: 5, objective: { kind: "synthetic", dim: 4 } }, now: new Date() });
  await new JobStore(store).create(queued);
  return { h, good, raw, otherTenantUpload, finishedJob: finished.id, queuedJob: queued.id, bytes: { good: goodBytes, html, huge } };
}

/** Every key with its ETag: equal snapshots mean nothing was created, changed or deleted. */
async function snapshot(store: Store): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let cursor: string | undefined;
  do {
    const page = await store.list("", cursor === undefined ? {} : { cursor });
    for (const { key } of page.entries) out[key] = (await store.get(key))!.etag;
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

function tiBody(f: Fixture, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    objective: "textual_inversion",
    model: "tiny-sd",
    placeholder_token: "<arrow>",
    initializer_token: "circle",
    images: f.good,
    max_steps: 10,
    stopping: { name: "fixed", steps: 10 },
    ...overrides,
  };
}

interface BadInput {
  readonly name: string;
  readonly send: (f: Fixture) => Promise<Response>;
  readonly status: number;
  readonly code: string;
  /** A phrase the problem's detail must contain (says why, so the refusal is the intended one). */
  readonly detail?: string;
}

const create = (body: (f: Fixture) => unknown, headers: Record<string, string> = {}) => (f: Fixture) => f.h.post("/v1/inversions", body(f), headers);
const rawUploads = (f: Fixture, bad: keyof Fixture["raw"]) => [f.good[0]!, f.good[1]!, f.raw[bad]];

const CASES: readonly BadInput[] = [
  // Uploads (embedded mode: the bytes come through the API).
  { name: "upload: corrupt (truncated) PNG", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: f.bytes.good.subarray(0, f.bytes.good.length - 40) }), status: 422, code: "invalid_image", detail: "cannot be decoded" },
  { name: "upload: HTML named .png", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: f.bytes.html }), status: 422, code: "invalid_image", detail: "not a PNG, JPEG or WebP" },
  { name: "upload: a 50-megapixel PNG (refused by its header)", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: f.bytes.huge }), status: 422, code: "invalid_image", detail: "8000x6250" },
  { name: "upload: empty body", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: Buffer.alloc(0) }), status: 422, code: "invalid_image", detail: "empty" },
  { name: "upload: wrong content type", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "text/html" }, body: f.bytes.html }), status: 415, code: "unsupported_media_type" },
  { name: "upload: over 10 MB", send: (f) => f.h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: Buffer.alloc(10 * 1024 * 1024 + 1) }), status: 413, code: "payload_too_large" },
  { name: "upload: presigned URL without the S3 store", send: (f) => f.h.post("/v1/uploads", { content_type: "image/png" }), status: 422, code: "invalid_input", detail: "need the S3 store" },

  // Images named by a job, checked at creation (including ones that never passed POST /v1/uploads).
  { name: "job: 0 images", send: create((f) => tiBody(f, { images: [] })), status: 400, code: "validation_failed" },
  { name: "job: 100 images", send: create((f) => tiBody(f, { images: Array.from({ length: 100 }, (_, i) => `upl_${String(i).padStart(8, "0")}`) })), status: 400, code: "validation_failed" },
  { name: "job: 2 images (the engine needs 3)", send: create((f) => tiBody(f, { images: f.good.slice(0, 2) })), status: 400, code: "validation_failed" },
  { name: "job: the same upload twice", send: create((f) => tiBody(f, { images: [f.good[0], f.good[0], f.good[1]] })), status: 400, code: "validation_failed" },
  { name: "job: an upload that does not exist", send: create((f) => tiBody(f, { images: [f.good[0], f.good[1], "upl_doesnotexist"] })), status: 422, code: "upload_missing", detail: "upl_doesnotexist" },
  { name: "job: another tenant's upload", send: create((f) => tiBody(f, { images: [f.good[0], f.good[1], f.otherTenantUpload] })), status: 422, code: "upload_missing" },
  { name: "job: a corrupt image", send: create((f) => tiBody(f, { images: rawUploads(f, "corrupt") })), status: 422, code: "invalid_image", detail: "cannot decode" },
  { name: "job: HTML named .png", send: create((f) => tiBody(f, { images: rawUploads(f, "html") })), status: 422, code: "invalid_image", detail: "not a PNG, JPEG or WebP" },
  { name: "job: a GIF", send: create((f) => tiBody(f, { images: rawUploads(f, "gif") })), status: 422, code: "invalid_image", detail: "not a PNG, JPEG or WebP" },
  { name: "job: a 50-megapixel image (refused by its dimensions, not decoded)", send: create((f) => tiBody(f, { images: rawUploads(f, "huge") })), status: 422, code: "invalid_image", detail: "8000x6250 is 50000000 pixels" },
  { name: "job: an image smaller than half the model's resolution", send: create((f) => tiBody(f, { images: rawUploads(f, "tiny") })), status: 422, code: "invalid_image", detail: "8x8 is too small" },

  // Model and tokens.
  { name: "job: unknown model", send: create((f) => tiBody(f, { model: "sd-15" })), status: 422, code: "unknown_model", detail: 'model "sd-15" is not served here' },
  { name: "job: placeholder already in the vocabulary", send: create((f) => tiBody(f, { placeholder_token: "a" })), status: 422, code: "invalid_token", detail: "already contains" },
  { name: "job: initializer that is not one token", send: create((f) => tiBody(f, { initializer_token: "cat" })), status: 422, code: "invalid_token", detail: "must be a single token" },
  { name: "job: placeholder with whitespace", send: create((f) => tiBody(f, { placeholder_token: "my cat" })), status: 400, code: "validation_failed" },
  { name: "job: too many vectors", send: create((f) => tiBody(f, { num_vectors: 17 })), status: 400, code: "validation_failed" },

  // Training settings.
  { name: "job: negative learning rate", send: create((f) => tiBody(f, { learning_rate: -0.001 })), status: 400, code: "validation_failed" },
  { name: "job: max_steps 0", send: create((f) => tiBody(f, { max_steps: 0 })), status: 400, code: "validation_failed" },
  { name: "job: max_steps over 20000", send: create((f) => tiBody(f, { max_steps: 20001 })), status: 400, code: "validation_failed" },
  { name: "job: unknown stopping rule", send: create((f) => tiBody(f, { stopping: { name: "vibes" } })), status: 400, code: "validation_failed" },
  { name: "job: a stopping rule that needs a score these objectives lack (patience)", send: create((f) => tiBody(f, { stopping: { name: "patience" } })), status: 400, code: "validation_failed" },
  { name: "job: DVAR threshold out of range", send: create((f) => tiBody(f, { stopping: { name: "dvar", window: 310, threshold: 1.5 } })), status: 400, code: "validation_failed" },
  { name: "job: DVAR window out of range", send: create((f) => tiBody(f, { stopping: { name: "dvar", window: 1, threshold: 0.15 } })), status: 400, code: "validation_failed" },
  { name: "job: unknown objective", send: create(() => ({ objective: "dreambooth" })), status: 400, code: "validation_failed" },
  { name: "job: unknown field", send: create((f) => tiBody(f, { colour: "red" })), status: 400, code: "validation_failed" },

  // Webhooks.
  { name: "job: private-address webhook", send: create((f) => tiBody(f, { webhook: { url: "http://192.168.1.20/hook" } })), status: 422, code: "invalid_input", detail: "webhook.url refused" },
  { name: "job: link-local (metadata service) webhook", send: create((f) => tiBody(f, { webhook: { url: "http://169.254.169.254/latest" } })), status: 422, code: "invalid_input", detail: "webhook.url refused" },
  { name: "job: bad event filter", send: create((f) => tiBody(f, { webhook: { url: "https://example.com/h", events: ["inversion.exploded"] } })), status: 400, code: "validation_failed" },
  { name: "job: empty event filter", send: create((f) => tiBody(f, { webhook: { url: "https://example.com/h", events: [] } })), status: 400, code: "validation_failed" },

  // The request itself.
  { name: "job: oversized body", send: create((f) => tiBody(f, { pad: "x".repeat(70_000) })), status: 413, code: "payload_too_large" },
  { name: "job: wrong content type", send: (f) => f.h.call("/v1/inversions", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(tiBody(f)) }), status: 415, code: "unsupported_media_type" },
  { name: "job: malformed JSON", send: (f) => f.h.call("/v1/inversions", { method: "POST", headers: { "content-type": "application/json" }, body: '{"objective":' }), status: 400, code: "bad_request" },
  { name: "job: empty Idempotency-Key", send: create((f) => tiBody(f), { "idempotency-key": "" }), status: 400, code: "validation_failed" },
  { name: "job: Idempotency-Key with spaces", send: create((f) => tiBody(f), { "idempotency-key": "order 1" }), status: 400, code: "validation_failed" },
  { name: "job: Idempotency-Key over 255 characters", send: create((f) => tiBody(f), { "idempotency-key": "k".repeat(256) }), status: 400, code: "validation_failed" },

  // Keys and tenants.
  { name: "missing key", send: (f) => f.h.call("/v1/inversions", { method: "POST", key: null, headers: { "content-type": "application/json" }, body: JSON.stringify(tiBody(f)) }), status: 401, code: "unauthorized" },
  { name: "wrong key", send: (f) => f.h.call("/v1/inversions", { method: "POST", key: "sk_wrongwrongwrongwrongwrongwrong", headers: { "content-type": "application/json" }, body: JSON.stringify(tiBody(f)) }), status: 401, code: "unauthorized" },
  { name: "another tenant's job", send: (f) => f.h.call(`/v1/inversions/${f.finishedJob}`, { key: f.h.keyB }), status: 404, code: "not_found" },
  { name: "cancel of another tenant's job", send: (f) => f.h.call(`/v1/inversions/${f.queuedJob}/cancel`, { method: "POST", key: f.h.keyB }), status: 404, code: "not_found" },

  // Job operations in the wrong state or with bad parameters.
  { name: "cancel of a finished job", send: (f) => f.h.call(`/v1/inversions/${f.finishedJob}/cancel`, { method: "POST" }), status: 409, code: "conflict", detail: "already succeeded" },
  { name: "embedding of an unfinished job", send: (f) => f.h.call(`/v1/inversions/${f.queuedJob}/embedding`), status: 409, code: "conflict", detail: "has not succeeded" },
  { name: "embedding in an unknown format", send: (f) => f.h.call(`/v1/inversions/${f.finishedJob}/embedding?format=ckpt`), status: 400, code: "validation_failed" },
  { name: "a malformed job id", send: (f) => f.h.call(`/v1/inversions/${"x".repeat(65)}`), status: 400, code: "validation_failed" },
  { name: "a job id that does not exist", send: (f) => f.h.call("/v1/inversions/inv_nosuchjob"), status: 404, code: "not_found" },
  { name: "a list cursor the API did not issue", send: (f) => f.h.call("/v1/inversions?cursor=%25%25%25"), status: 400, code: "validation_failed" },
  { name: "a list limit out of range", send: (f) => f.h.call("/v1/inversions?limit=1000"), status: 400, code: "validation_failed" },
  { name: "usage with a malformed time", send: (f) => f.h.call("/v1/usage?from=yesterday"), status: 400, code: "validation_failed" },
  { name: "an unknown route", send: (f) => f.h.call("/v1/trainings"), status: 404, code: "not_found" },
];

describe("bad input: the documented 4xx, and nothing stored", () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await buildFixture();
  }, 60_000);

  it("has at least 25 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const before = await snapshot(fixture.h.store);
    const dispatched = fixture.h.dispatched.length;
    const response = await c.send(fixture);
    const body = await problem(response);
    expect({ status: response.status, code: body.code }, body.detail).toEqual({ status: c.status, code: c.code });
    expect(body.status).toBe(c.status);
    if (c.detail !== undefined) expect(body.detail).toContain(c.detail);
    expect(await snapshot(fixture.h.store)).toEqual(before);
    expect(fixture.h.dispatched.length).toBe(dispatched);
  });

  it("accepts the fixture's good request (so the refusals above are about what each case changed)", async () => {
    const response = await fixture.h.post("/v1/inversions", tiBody(fixture));
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await fixture.h.dispatcher.drain();
    const job = (await (await fixture.h.call(`/v1/inversions/${id}`)).json()) as { status: string; error: unknown };
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
  }, 60_000);
});
