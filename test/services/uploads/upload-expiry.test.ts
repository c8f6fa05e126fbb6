/**
 * Upload expiry on the embedded default: ids that carry their issue time, job creation refusing
 * uploads near expiry, and the sweep deleting expired uploads (jobs train on their own copies;
 * only queued or running jobs created before the copies keep the uploads they name). A fake
 * clock drives every step; nothing waits.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parseSweepConfig } from "../../../src/config/sweep-config.js";
import type { Clock } from "../../../src/ports/clock.js";
import { createInversionRequestSchema, UPLOAD_ID_PATTERN } from "../../../src/handlers/schemas/inversion-request.js";
import { markJobActive } from "../../../src/services/jobs/active-jobs.js";
import { jobInputKey, JobStore, newJobRecord } from "../../../src/services/jobs/index.js";
import { configFromRequest } from "../../../src/services/inversions/config-from-request.js";
import { startSweepLoop } from "../../../src/services/recovery/sweep-loop.js";
import { DAY_MS, DEFAULT_UPLOAD_EXPIRY, uploadExpiryOfDays } from "../../../src/services/uploads/upload-expiry.js";
import { newUploadId, uploadIssuedAt, uploadKey, UPLOADS_PREFIX } from "../../../src/services/uploads/upload-keys.js";
import { UploadSweeper, type UploadSweepResult } from "../../../src/services/uploads/upload-sweeper.js";
import { createHarness, problem, type Harness } from "../../handlers/api/harness.js";

class ManualClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}

const T0 = Date.parse("2026-03-01T00:00:00Z");

describe("upload ids", () => {
  it("carry the time they were issued and fit the API's id pattern; other ids have no known time", () => {
    for (const at of [0, T0, T0 + 123_456_789, Date.parse("2100-01-01T00:00:00Z")]) {
      const id = newUploadId(at);
      expect(id).toMatch(UPLOAD_ID_PATTERN);
      expect(uploadIssuedAt(id)).toBe(at);
    }
    expect(newUploadId(T0)).not.toBe(newUploadId(T0));
    // The ids issued before (random hex) and ids tests inject say nothing about time.
    expect(uploadIssuedAt("upl_0c1d2e3f4a5b6c7d8e9f0a1b")).toBeUndefined();
    expect(uploadIssuedAt("upl_00000000")).toBeUndefined();
  });
});

describe("DVAR_UPLOAD_SWEEP_INTERVAL_MS", () => {
  it("defaults to an hour; 0 (every pass) and whole milliseconds are taken, a negative or fractional value is refused", () => {
    expect(parseSweepConfig({}).uploadSweepIntervalMs).toBe(60 * 60 * 1000);
    expect(parseSweepConfig({ DVAR_UPLOAD_SWEEP_INTERVAL_MS: "0" }).uploadSweepIntervalMs).toBe(0);
    expect(parseSweepConfig({ DVAR_UPLOAD_SWEEP_INTERVAL_MS: "900000" }).uploadSweepIntervalMs).toBe(900_000);
    expect(() => parseSweepConfig({ DVAR_UPLOAD_SWEEP_INTERVAL_MS: "-1" })).toThrow(/DVAR_UPLOAD_SWEEP_INTERVAL_MS/);
    expect(() => parseSweepConfig({ DVAR_UPLOAD_SWEEP_INTERVAL_MS: "1.5" })).toThrow(/DVAR_UPLOAD_SWEEP_INTERVAL_MS/);
  });
});

describe("DVAR_UPLOAD_TTL_DAYS", () => {
  it("defaults to 7 days, 0 turns expiry off, and 1 or a fraction is refused", () => {
    expect(parseSweepConfig({}).uploadExpiry).toEqual(DEFAULT_UPLOAD_EXPIRY);
    expect(DEFAULT_UPLOAD_EXPIRY).toEqual({ ttlMs: 7 * DAY_MS, jobWindowMs: DAY_MS });
    expect(parseSweepConfig({ DVAR_UPLOAD_TTL_DAYS: "30" }).uploadExpiry).toEqual(uploadExpiryOfDays(30));
    expect(parseSweepConfig({ DVAR_UPLOAD_TTL_DAYS: "0" }).uploadExpiry).toBeNull();
    expect(() => parseSweepConfig({ DVAR_UPLOAD_TTL_DAYS: "1" })).toThrow(/DVAR_UPLOAD_TTL_DAYS/);
    expect(() => parseSweepConfig({ DVAR_UPLOAD_TTL_DAYS: "2.5" })).toThrow(/DVAR_UPLOAD_TTL_DAYS/);
  });
});

async function setup() {
  const clock = new ManualClock(T0);
  const h = await createHarness({ runSlices: false, deps: { clock } });
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
  const upload = async (h: Harness): Promise<string> => {
    const response = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: png });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const createJob = (images: string[]) =>
    h.post("/v1/inversions", { objective: "textual_inversion", model: "tiny-sd", placeholder_token: "<x>", initializer_token: "toy", images });
  const sweeper = new UploadSweeper({ store: h.store, expiry: DEFAULT_UPLOAD_EXPIRY, clock });
  const uploadKeys = async () => (await h.store.list(UPLOADS_PREFIX)).entries.map((e) => e.key).sort();
  return { clock, h, png, upload, createJob, sweeper, uploadKeys };
}

describe("upload expiry (embedded default, 7 days)", () => {
  it("refuses, at job creation, an upload within a day of expiry (422 upload_missing) and stores nothing", async () => {
    const { clock, h, upload, createJob } = await setup();
    const ids = [await upload(h), await upload(h), await upload(h)];
    clock.ms = T0 + 6 * DAY_MS;
    expect((await createJob(ids)).status).toBe(202);
    clock.ms = T0 + 6 * DAY_MS + 1;
    const jobsBefore = (await h.store.list("jobs/")).entries.length;
    const refused = await createJob(ids);
    expect(refused.status).toBe(422);
    const body = await problem(refused);
    expect(body.code).toBe("upload_missing");
    expect(body.detail).toContain(`upload "${ids[0]}" has expired for new jobs (uploads are kept 7 days and may start a job for 6)`);
    expect((await h.store.list("jobs/")).entries.length).toBe(jobsBefore);
  });

  it("deletes expired uploads whatever a job names, now that jobs train on their own copies of them", async () => {
    const { clock, h, png, upload, createJob, sweeper, uploadKeys } = await setup();
    const forJob = [await upload(h), await upload(h), await upload(h)];
    const created = await createJob(forJob);
    expect(created.status).toBe(202);
    const { id: jobId } = (await created.json()) as { id: string };
    const record = (await new JobStore(h.store).read(jobId))!.record;
    const inputs = (record.config.objective as { inputs: string[] }).inputs;
    expect(inputs).toEqual([0, 1, 2].map((i) => jobInputKey(jobId, i)));
    clock.ms = T0 + 7 * DAY_MS + 1;
    const swept = await sweeper.sweep();
    expect(swept).toEqual({ deleted: forJob.map((id) => uploadKey("tenant-a", id)).sort(), kept: [] });
    expect(await uploadKeys()).toEqual([]);
    // The queued job still has its images.
    for (const key of inputs) expect(Buffer.from((await h.store.get(key))!.body).equals(png)).toBe(true);
    expect((await h.store.list(`jobs/${jobId}/inputs/`)).entries.map((e) => e.key)).toEqual(inputs);
  });

  it("keeps expired uploads that a queued or running job created before the copies names, until it ends", async () => {
    const { clock, h, upload, sweeper, uploadKeys } = await setup();
    const forJob = [await upload(h), await upload(h), await upload(h)];
    const loose = [await upload(h), await upload(h)];
    // A record as written before jobs had copies: config.objective names the uploads only.
    const request = createInversionRequestSchema.parse({ objective: "textual_inversion", model: "tiny-sd", placeholder_token: "<x>", initializer_token: "toy", images: forJob });
    const old = newJobRecord({ id: "inv_0123456789abcdef01234567", tenantId: "tenant-a", keyId: "key_old", config: configFromRequest(request, "tenant-a"), now: new Date(clock.now()) });
    expect(old.config.objective).not.toHaveProperty("inputs");
    await new JobStore(h.store).create(old);
    // Issued later: not expired at the sweep below.
    clock.ms = T0 + 2 * DAY_MS;
    const younger = await upload(h);
    // Of unknown age (an id without a time, as issued before ids carried one): never deleted.
    const legacy = uploadKey("tenant-a", "upl_0c1d2e3f4a5b6c7d8e9f0a1b");
    await h.store.put(legacy, new Uint8Array([1]));
    const key = (id: string) => uploadKey("tenant-a", id);

    // Exactly at the TTL nothing has expired yet.
    clock.ms = T0 + 7 * DAY_MS;
    expect(await sweeper.sweep()).toEqual({ deleted: [], kept: [] });

    clock.ms = T0 + 7 * DAY_MS + 1;
    const first = await sweeper.sweep();
    expect(first.deleted.sort()).toEqual(loose.map(key).sort());
    expect(first.kept.sort()).toEqual(forJob.map(key).sort());
    expect(await uploadKeys()).toEqual([...forJob.map(key), key(younger), legacy].sort());

    // The job is still queued on later passes: its uploads stay.
    clock.ms += 30 * DAY_MS;
    expect((await sweeper.sweep()).kept.sort()).toEqual(forJob.map(key).sort());
    expect(await uploadKeys()).toEqual([...forJob.map(key), legacy].sort());

    // Once it has ended (canceled here), nothing names them any more.
    expect((await h.call(`/v1/inversions/${old.id}/cancel`, { method: "POST" })).status).toBe(200);
    const last = await sweeper.sweep();
    expect(last.deleted.sort()).toEqual(forJob.map(key).sort());
    expect(await uploadKeys()).toEqual([legacy]);
  });

  it("a job's marker without a record (a create under way or dead, which writes copies) does not hold expired uploads back", async () => {
    const { clock, h, upload, sweeper, uploadKeys } = await setup();
    const id = await upload(h);
    await markJobActive(h.store, "inv_000000000000000000000000", new Date(clock.now()));
    clock.ms = T0 + 8 * DAY_MS;
    expect(await sweeper.sweep()).toEqual({ deleted: [uploadKey("tenant-a", id)], kept: [] });
    expect(await uploadKeys()).toEqual([]);
  });

  it("runs in the recovery loop's passes (at most hourly), after the job sweep, and reports its errors", async () => {
    const { clock, h, upload, sweeper, uploadKeys } = await setup();
    await upload(h);
    const timers: Array<() => void> = [];
    const reports: UploadSweepResult[] = [];
    const errors: unknown[] = [];
    const order: string[] = [];
    let failNext = true;
    const loop = startSweepLoop({
      sweeper: { sweep: async () => (order.push("jobs"), { checked: 0, redispatched: [], failed: [], cleared: 0, inputsDeleted: [], errors: [] }) },
      uploads: {
        sweep: async () => {
          order.push("uploads");
          if (failNext) {
            failNext = false;
            throw new Error("store down");
          }
          return sweeper.sweep();
        },
      },
      intervalMs: 60_000,
      clock,
      schedule: (run) => (timers.push(run), () => {}),
      onUploads: (result) => reports.push(result),
      onError: (error) => errors.push(error),
    });
    const settle = () => new Promise((r) => setImmediate(r));
    // The first pass runs at once: its upload sweep fails, and the loop schedules the next.
    await settle();
    expect(errors.map(String)).toEqual(["Error: store down"]);
    expect(timers).toHaveLength(1);
    clock.ms = T0 + 8 * DAY_MS;
    timers.shift()!();
    await settle();
    expect(order).toEqual(["jobs", "uploads", "jobs", "uploads"]);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.deleted).toHaveLength(1);
    expect(await uploadKeys()).toEqual([]);
    await loop.close();
  });
});
