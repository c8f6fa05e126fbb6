import { describe, expect, it } from "vitest";
import { parseExact, stringifyExact } from "../../../src/core/io/exact-json.js";
import { JobStore, jobRecordKey } from "../../../src/services/jobs/index.js";
import { downsampleHistory } from "../../../src/services/inversions/job-view.js";
import { createHarness, problem, syntheticBody } from "./harness.js";

describe("GET /v1/inversions/{id}", () => {
  it("reports DVAR ratio, downsampled histories, timings and usage of a finished job", async () => {
    const h = await createHarness();
    const body = syntheticBody({ max_steps: 400, stopping: { name: "dvar", window: 20, threshold: 0.15 } });
    const { id } = (await (await h.post("/v1/inversions", body)).json()) as { id: string };
    await h.dispatcher.drain();
    const response = await h.call(`/v1/inversions/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toMatch(/^".+"$/);
    const job = (await response.json()) as Record<string, any>;
    expect(["succeeded"]).toContain(job.status);
    expect(job.histories.total_steps).toBe(job.step);
    expect(job.histories.step.length).toBe(Math.min(job.step, 256));
    expect(job.histories.step[0]).toBe(1);
    expect(job.histories.step.at(-1)).toBe(job.step);
    // The last criterion row is the DVAR ratio the job reports.
    expect(job.dvar_ratio).toBe(job.histories.criterion.at(-1));
    expect(job.dvar_ratio).toBeGreaterThan(0);
    expect(job.usage.steps).toBe(job.step);
    expect(job.usage.slices).toBe(Math.ceil(job.step / 40));
    expect(job.timings.running_seconds).toBeGreaterThanOrEqual(0);
    expect(job.embedding_formats).toEqual([]);
  });

  it("downsamples evenly, keeping the first and last rows and NaN as null", () => {
    const n = 1000;
    const values = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? NaN : i));
    const h = downsampleHistory({ trainLoss: values, ldet: values, criterion: values }, 10);
    expect(h.step).toEqual([1, 112, 223, 334, 445, 556, 667, 778, 889, 1000]);
    expect(h.train_loss[0]).toBeNull();
    expect(h.train_loss[1]).toBe(111);
    expect(h.total_steps).toBe(1000);
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    const h = await createHarness({ runSlices: false });
    expect((await problem(await h.call("/v1/inversions/inv_nope"))).code).toBe("not_found");
    const bad = await h.call("/v1/inversions/has.dots");
    expect(bad.status).toBe(400);
  });
});

describe("GET /v1/inversions", () => {
  it("pages newest first with a cursor", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const h = await createHarness({ runSlices: false, deps: { clock: { now: () => (now += 1000), sleep: async () => {} } } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(((await (await h.post("/v1/inversions", syntheticBody({ seed: i }))).json()) as { id: string }).id);
    await h.post("/v1/inversions", syntheticBody(), {}, h.keyB);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await h.call(`/v1/inversions?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { data: Array<{ id: string }>; next_cursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(ids.reverse());
  });

  it("refuses a limit out of range and a cursor it did not issue", async () => {
    const h = await createHarness({ runSlices: false });
    expect((await h.call("/v1/inversions?limit=0")).status).toBe(400);
    expect((await h.call("/v1/inversions?limit=101")).status).toBe(400);
    expect((await h.call("/v1/inversions?cursor=%25%25")).status).toBe(400);
  });
});

describe("POST /v1/inversions/{id}/cancel", () => {
  it("cancels a queued job; the slice that then runs leaves it canceled", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    const response = await h.call(`/v1/inversions/${id}/cancel`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe("canceled");
    const again = await h.call(`/v1/inversions/${id}/cancel`, { method: "POST" });
    expect(again.status).toBe(200);
    const record = await new JobStore(h.store).read(id);
    expect(record?.record).toMatchObject({ status: "canceled", step: 0 });
    expect(record?.record.finishedAt).not.toBeNull();
  });

  it("cancels a running job between slices; the next slice does nothing", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody({ max_steps: 200, stopping: { name: "fixed", steps: 200 } }))).json()) as { id: string };
    const { StoreSliceService, defaultObjectives } = await import("../../../src/services/slices/index.js");
    const slices = new StoreSliceService({ store: h.store, dispatcher: { dispatch: async (i) => ({ ...i, dispatcher: "inprocess", duplicate: false }) }, objectives: defaultObjectives(), budget: { maxWallMs: 60_000, maxSteps: 40 }, device: "cpu" });
    expect((await slices.run({ jobId: id, slice: 0 })).kind).toBe("advanced");
    expect((await h.call(`/v1/inversions/${id}/cancel`, { method: "POST" })).status).toBe(200);
    const next = await slices.run({ jobId: id, slice: 1 });
    expect(next.kind).toBe("stale");
    const record = await new JobStore(h.store).read(id);
    expect(record?.record).toMatchObject({ status: "canceled", step: 40 });
  });

  it("answers 409 for a finished job", async () => {
    const h = await createHarness();
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await h.dispatcher.drain();
    const response = await h.call(`/v1/inversions/${id}/cancel`, { method: "POST" });
    expect(response.status).toBe(409);
    expect((await problem(response)).code).toBe("conflict");
  });
});

describe("job records from a newer release (docs/STORE.md, Compatibility)", () => {
  const FUTURE_TEXT = '"futureField":{"x":1}';

  /** Adds `futureField` where a newer release might: at the top level and inside nested objects. */
  async function writeAsNewerRelease(h: Awaited<ReturnType<typeof createHarness>>, id: string, edit: (record: Record<string, any>) => void): Promise<void> {
    const key = jobRecordKey(id);
    const found = (await h.store.get(key))!;
    const record = parseExact(new TextDecoder().decode(found.body)) as Record<string, any>;
    edit(record);
    await h.store.put(key, new TextEncoder().encode(stringifyExact(record)), { ifMatch: found.etag, contentType: "application/json" });
  }

  it("are read, listed and canceled without showing the unknown fields; the cancel keeps them stored", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    await writeAsNewerRelease(h, id, (record) => {
      record.futureField = { x: 1 };
      record.webhook = { url: "https://hooks.example.com/a", futureField: { x: 1 } };
    });

    const got = await h.call(`/v1/inversions/${id}`);
    expect(got.status).toBe(200);
    const text = await got.text();
    expect(text).not.toContain("futureField");
    expect(JSON.parse(text).webhook).toEqual({ url: "https://hooks.example.com/a" });
    expect(await (await h.call("/v1/inversions")).text()).not.toContain("futureField");

    const canceled = await h.call(`/v1/inversions/${id}/cancel`, { method: "POST" });
    expect(canceled.status).toBe(200);
    expect(await canceled.text()).not.toContain("futureField");
    const stored = new TextDecoder().decode((await h.store.get(jobRecordKey(id)))!.body);
    expect(JSON.parse(stored)).toMatchObject({ status: "canceled", futureField: { x: 1 } });
    expect(stored.split(FUTURE_TEXT)).toHaveLength(3); // top level and webhook
  });

  it("show a finished job's outcome and error by their known fields only", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    const at = new Date().toISOString();
    await writeAsNewerRelease(h, id, (record) => {
      Object.assign(record, { status: "failed", updatedAt: at, startedAt: at, finishedAt: at, futureField: { x: 1 } });
      record.outcome = { kind: "failed", step: 3, reason: "loss is NaN", futureField: { x: 1 } };
      record.error = { code: "optimization_failed", message: "loss is NaN", futureField: { x: 1 } };
    });
    const got = await h.call(`/v1/inversions/${id}`);
    expect(got.status).toBe(200);
    const text = await got.text();
    expect(text).not.toContain("futureField");
    const job = JSON.parse(text) as Record<string, unknown>;
    expect(job.outcome).toEqual({ kind: "failed", step: 3, reason: "loss is NaN" });
    expect(job.error).toEqual({ code: "optimization_failed", message: "loss is NaN" });
  });
});
