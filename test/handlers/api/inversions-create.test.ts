import { describe, expect, it } from "vitest";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import { JobStore } from "../../../src/services/jobs/index.js";
import { DAY_MS, DEFAULT_UPLOAD_EXPIRY } from "../../../src/services/uploads/upload-expiry.js";
import { UploadSweeper } from "../../../src/services/uploads/upload-sweeper.js";
import { UsageLedger } from "../../../src/services/usage/index.js";
import { createHarness, problem, storedKeys, syntheticBody, textualInversionBody, uploadConcept } from "./harness.js";

describe("POST /v1/inversions: happy path", () => {
  it("stores a queued job create-only, dispatches slice 0 and answers 202 with the resource", async () => {
    const h = await createHarness({ runSlices: false });
    const response = await h.post("/v1/inversions", syntheticBody());
    expect(response.status).toBe(202);
    const job = (await response.json()) as Record<string, unknown>;
    expect(job).toMatchObject({ object: "inversion", objective: "synthetic", status: "queued", step: 0, max_steps: 60, histories: null });
    expect(String(job.id)).toMatch(/^inv_[0-9a-f]{24}$/);
    expect(response.headers.get("location")).toBe(`/v1/inversions/${job.id}`);
    expect(h.dispatched).toEqual([{ jobId: job.id, slice: 0 }]);
    const record = await new JobStore(h.store).read(String(job.id));
    expect(record?.record).toMatchObject({ tenantId: "tenant-a", status: "queued", config: { maxSteps: 60, stop: { name: "fixed", steps: 60 } } });
  });

  it("runs the job to the end through the in-process slices", async () => {
    const h = await createHarness();
    const created = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${created.id}`)).json()) as Record<string, any>;
    expect(job.status).toBe("succeeded");
    expect(job.step).toBe(60);
    expect(job.outcome).toMatchObject({ kind: "converged", step: 60 });
    expect(job.usage).toMatchObject({ slices: 2, steps: 60 });
    expect(job.histories.total_steps).toBe(60);
    expect(job.histories.step).toHaveLength(60);
  });

  it("defaults a textual_inversion request and fails the job clearly when no such objective is registered", async () => {
    const h = await createHarness();
    const uploadIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const upload = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: PNG_1x1 });
      expect(upload.status).toBe(201);
      uploadIds.push(((await upload.json()) as { id: string }).id);
    }
    const response = await h.post("/v1/inversions", {
      objective: "textual_inversion",
      model: "tiny-sd",
      placeholder_token: "<cat-toy>",
      initializer_token: "toy",
      images: uploadIds,
    });
    expect(response.status).toBe(202);
    const created = (await response.json()) as { id: string; stopping: unknown; max_steps: number };
    expect(created.stopping).toEqual({ name: "dvar", window: 310, threshold: 0.15, every: 1 });
    expect(created.max_steps).toBe(6100);
    await h.dispatcher.drain();
    const job = (await (await h.call(`/v1/inversions/${created.id}`)).json()) as Record<string, any>;
    expect(job.status).toBe("failed");
    expect(job.error.code).toBe("unsupported_objective");
    const record = await new JobStore(h.store).read(created.id);
    expect(record?.record.config.objective).toMatchObject({ kind: "textual-inversion", images: uploadIds.map((u) => `uploads/tenant-a/${u}`), numVectors: 1, learnableProperty: "object" });
    // scale_lr (default true): the default 5e-3 times the training batch of 4, as `dvar invert` trains.
    expect(record?.record.config.learningRate).toBeCloseTo(0.02, 12);

    const unscaled = await h.post("/v1/inversions", {
      objective: "textual_inversion",
      model: "tiny-sd",
      placeholder_token: "<cat-toy>",
      initializer_token: "toy",
      images: uploadIds,
      learning_rate: 1e-3,
      scale_lr: false,
    });
    expect(unscaled.status).toBe(202);
    const unscaledRecord = await new JobStore(h.store).read(((await unscaled.json()) as { id: string }).id);
    expect(unscaledRecord?.record.config.learningRate).toBe(1e-3);
  });
});

describe("POST /v1/inversions: Idempotency-Key", () => {
  it("answers the same job for the same key and body, and refuses another body", async () => {
    const h = await createHarness({ runSlices: false });
    const first = await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "order-1" });
    const again = await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "order-1" });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const a = (await first.json()) as { id: string };
    const b = (await again.json()) as { id: string };
    expect(b.id).toBe(a.id);
    const other = await h.post("/v1/inversions", syntheticBody({ seed: 8 }), { "idempotency-key": "order-1" });
    expect(other.status).toBe(409);
    expect((await problem(other)).code).toBe("idempotency_key_reused");
    const list = (await (await h.call("/v1/inversions")).json()) as { data: unknown[] };
    expect(list.data).toHaveLength(1);
  });

  it("keys are per tenant: another tenant's identical key makes its own job", async () => {
    const h = await createHarness({ runSlices: false });
    const a = (await (await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "k" })).json()) as { id: string };
    const b = (await (await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "k" }, h.keyB)).json()) as { id: string };
    expect(b.id).not.toBe(a.id);
  });

  it("a retry finishes a request that stopped after claiming the key", async () => {
    let failOnce = true;
    const h = await createHarness({
      runSlices: false,
      deps: {
        dispatcher: {
          dispatch: async (invocation) => {
            if (failOnce) {
              failOnce = false;
              const { DispatchError } = await import("../../../src/ports/dispatcher/index.js");
              throw new DispatchError("backend down");
            }
            return { ...invocation, dispatcher: "inprocess", duplicate: false };
          },
        },
      },
    });
    const first = await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "retry-me" });
    expect(first.status).toBe(503);
    expect((await problem(first)).code).toBe("service_unavailable");
    const retry = await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "retry-me" });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { status: string }).status).toBe("queued");
  });
});

describe("POST /v1/inversions: an Idempotency-Key replay answers the original job before any other check", () => {
  const T0 = Date.parse("2026-03-01T00:00:00Z");
  const clock = { ms: T0, now() { return this.ms; }, async sleep(ms: number) { this.ms += ms; } };

  /** Tenant A's key with a 10-second budget, a way to spend it, and three uploads issued at T0. */
  async function setup() {
    clock.ms = T0;
    const h = await createHarness({ runSlices: false, deps: { clock } });
    const capped = await new ApiKeyRegistry(h.store).issue("tenant-a", "capped", undefined, { budgetSeconds: 10 });
    const spendBudget = () =>
      new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId: "inv_elsewhere", slice: 0, steps: 1, device: "cpu", seconds: 11, recordedAt: "2026-03-01T00:00:00Z" });
    const ids = (await uploadConcept(h)).slice(0, 3);
    const post = (body: unknown, key: string) => h.post("/v1/inversions", body, { "idempotency-key": key }, capped.key);
    return { h, ids, spendBudget, post };
  }

  const idOf = async (response: Response) => ((await response.json()) as { id: string }).id;

  it("after the uploads expired for new jobs (and were deleted): 202, the same job; another body under the key is still 409", async () => {
    const { h, ids, post } = await setup();
    const body = textualInversionBody(ids);
    const first = await post(body, "expiry-1");
    expect(first.status).toBe(202);
    const jobId = await idOf(first);

    clock.ms = T0 + 6 * DAY_MS + 1;
    // A new request naming them is refused now...
    const fresh = await post(body, "expiry-2");
    expect(fresh.status).toBe(422);
    expect((await problem(fresh)).code).toBe("upload_missing");
    // ...the replay answers what the first request answered, and stores nothing new.
    const before = await storedKeys(h.store);
    const replay = await post(body, "expiry-1");
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await idOf(replay)).toBe(jobId);
    expect(await storedKeys(h.store)).toEqual(before);

    // Also once the sweep has deleted them.
    clock.ms = T0 + 7 * DAY_MS + 1;
    await new UploadSweeper({ store: h.store, expiry: DEFAULT_UPLOAD_EXPIRY, clock }).sweep();
    expect((await h.store.list("uploads/")).entries).toEqual([]);
    const later = await post(body, "expiry-1");
    expect(later.status).toBe(202);
    expect(await idOf(later)).toBe(jobId);

    const other = await post(textualInversionBody(ids, { seed: 12 }), "expiry-1");
    expect(other.status).toBe(409);
    expect((await problem(other)).code).toBe("idempotency_key_reused");
  });

  it("after the key's budget ran out: 202, the same job; a new request is 402 and another body under the key 409", async () => {
    const { h, ids, spendBudget, post } = await setup();
    const first = await post(textualInversionBody(ids), "budget-1");
    expect(first.status).toBe(202);
    const jobId = await idOf(first);
    const synthetic = await post(syntheticBody(), "budget-2");
    expect(synthetic.status).toBe(202);

    await spendBudget();
    const fresh = await post(syntheticBody({ seed: 9 }), "budget-3");
    expect(fresh.status).toBe(402);
    expect((await problem(fresh)).code).toBe("budget_exhausted");
    const before = await storedKeys(h.store);
    for (const [key, body, id] of [["budget-1", textualInversionBody(ids), jobId], ["budget-2", syntheticBody(), await idOf(synthetic)]] as const) {
      const replay = await post(body, key);
      expect(replay.status).toBe(202);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await idOf(replay)).toBe(id);
    }
    expect(await storedKeys(h.store)).toEqual(before);

    const other = await post(syntheticBody({ seed: 8 }), "budget-2");
    expect(other.status).toBe(409);
    expect((await problem(other)).code).toBe("idempotency_key_reused");
    // A key that was never used gets the budget's answer, as before.
    expect((await post(syntheticBody({ seed: 8 }), "budget-4")).status).toBe(402);
  });
});

const PNG_1x1 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
  "base64",
);

describe("POST /v1/inversions: errors (nothing is stored)", () => {
  const cases: Array<[string, unknown, number, string]> = [
    ["no objective", { seed: 1 }, 400, "validation_failed"],
    ["unknown objective", { objective: "dreambooth" }, 400, "validation_failed"],
    ["negative learning rate", syntheticBody({ learning_rate: -1 }), 400, "validation_failed"],
    ["zero max_steps", syntheticBody({ max_steps: 0 }), 400, "validation_failed"],
    ["DVAR threshold of 1", syntheticBody({ stopping: { name: "dvar", threshold: 1 } }), 400, "validation_failed"],
    ["unknown stopping rule", syntheticBody({ stopping: { name: "vibes" } }), 400, "validation_failed"],
    ["unknown field", syntheticBody({ colour: "red" }), 400, "validation_failed"],
    ["textual_inversion without images", { objective: "textual_inversion", model: "m", placeholder_token: "<x>", initializer_token: "x", images: [] }, 400, "validation_failed"],
    ["100 images", { objective: "textual_inversion", model: "m", placeholder_token: "<x>", initializer_token: "x", images: Array.from({ length: 100 }, (_, i) => `upl_${String(i).padStart(8, "0")}`) }, 400, "validation_failed"],
    ["a placeholder with spaces", { objective: "textual_inversion", model: "m", placeholder_token: "my cat", initializer_token: "x", images: ["upl_00000000"] }, 400, "validation_failed"],
    ["an upload that does not exist", { objective: "textual_inversion", model: "m", placeholder_token: "<x>", initializer_token: "x", images: ["upl_00000000", "upl_00000001", "upl_00000002"] }, 422, "upload_missing"],
    ["a private-address webhook", syntheticBody({ webhook: { url: "http://10.0.0.5/hook" } }), 422, "invalid_input"],
    ["a loopback webhook", syntheticBody({ webhook: { url: "http://127.0.0.1:9/hook" } }), 422, "invalid_input"],
    ["a webhook with credentials", syntheticBody({ webhook: { url: "https://u:p@example.com/hook" } }), 422, "invalid_input"],
    ["a non-http webhook", syntheticBody({ webhook: { url: "ftp://example.com/hook" } }), 400, "validation_failed"],
    ["an unknown webhook event", syntheticBody({ webhook: { url: "https://example.com/h", events: ["inversion.exploded"] } }), 400, "validation_failed"],
  ];
  it.each(cases)("refuses %s", async (_name, body, status, code) => {
    const h = await createHarness({ runSlices: false });
    const response = await h.post("/v1/inversions", body);
    expect(response.status).toBe(status);
    expect((await problem(response)).code).toBe(code);
    expect(await storedKeys(h.store)).toEqual([]);
    expect(h.dispatched).toEqual([]);
  });

  it("refuses malformed JSON, another content type, an oversized body and a bad Idempotency-Key", async () => {
    const h = await createHarness({ runSlices: false });
    const malformed = await h.call("/v1/inversions", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(malformed.status).toBe(400);
    const text = await h.call("/v1/inversions", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(syntheticBody()) });
    expect(text.status).toBe(415);
    expect((await problem(text)).code).toBe("unsupported_media_type");
    const big = await h.post("/v1/inversions", syntheticBody({ pad: "x".repeat(70_000) }));
    expect(big.status).toBe(413);
    expect((await problem(big)).code).toBe("payload_too_large");
    const badKey = await h.post("/v1/inversions", syntheticBody(), { "idempotency-key": "" });
    expect(badKey.status).toBe(400);
    expect(await storedKeys(h.store)).toEqual([]);
  });
});
