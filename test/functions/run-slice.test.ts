import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseInvocationArgs, runSliceFunction, SliceFunctionUsageError } from "../../functions/run-slice.js";
import { createStore, InvalidWorkerConfigError, parseWorkerConfig } from "../../src/config/worker-config.js";
import { FsStore, S3Store } from "../../src/ports/store/index.js";
import { JobStore, newJobRecord } from "../../src/services/jobs/index.js";
import type { SliceService } from "../../src/services/slices/index.js";
import { syntheticConfig, RecordingEvents } from "../services/slices/harness.js";

const root = mkdtempSync(join(tmpdir(), "run-slice-"));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function fsJob(id = "job1", config = syntheticConfig()) {
  const dir = join(root, String(dirs++));
  const store = new FsStore({ root: dir });
  await new JobStore(store).create(newJobRecord({ id, tenantId: "t1", keyId: "k1", config, now: new Date("2026-01-01T00:00:00Z") }));
  return { dir, store };
}

describe("parseInvocationArgs", () => {
  it("reads --job/--slice in both spellings, falling back to DVAR_JOB_ID/DVAR_SLICE", () => {
    expect(parseInvocationArgs(["--job", "abc", "--slice", "3"], {})).toEqual({ jobId: "abc", slice: 3 });
    expect(parseInvocationArgs(["--job=abc", "--slice=0"], {})).toEqual({ jobId: "abc", slice: 0 });
    expect(parseInvocationArgs([], { DVAR_JOB_ID: "j_2", DVAR_SLICE: "12" })).toEqual({ jobId: "j_2", slice: 12 });
    expect(parseInvocationArgs(["--slice", "1"], { DVAR_JOB_ID: "j", DVAR_SLICE: "9" })).toEqual({ jobId: "j", slice: 1 });
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /needs --job/],
    [["--job", "a"], /needs --job/],
    [["--job", "a", "--slice", "-1"], /non-negative integer/],
    [["--job", "a", "--slice", "1e3"], /non-negative integer/],
    [["--job", "a/b", "--slice", "1"], /job id/],
    [["--job", "a", "--slice", "1", "--gpu", "x"], /unknown option/],
    [["--job"], /needs a value/],
    [["job", "a"], /unexpected argument/],
  ];
  it.each(bad)("refuses %j", (argv, message) => {
    expect(() => parseInvocationArgs(argv, {})).toThrow(SliceFunctionUsageError);
    expect(() => parseInvocationArgs(argv, {})).toThrow(message);
  });
});

describe("parseWorkerConfig", () => {
  it("defaults to the filesystem store, a 10-minute slice and the cpu device", () => {
    expect(parseWorkerConfig({})).toEqual({ store: { kind: "fs", root: ".dvar/store" }, budget: { maxWallMs: 600_000 }, leaseGraceMs: 300_000, leaseTtlMs: 60_000, device: "cpu" });
  });

  it("builds an S3 store from DVAR_S3_* without any credential in the configuration", () => {
    const config = parseWorkerConfig({
      DVAR_STORE: "s3",
      DVAR_S3_BUCKET: "dvar-jobs",
      DVAR_S3_ENDPOINT: "http://127.0.0.1:7480",
      DVAR_S3_FORCE_PATH_STYLE: "true",
      DVAR_S3_KEY_PREFIX: "prod/",
      DVAR_S3_COPY: "copy-object",
      DVAR_SLICE_MAX_MS: "120000",
      DVAR_SLICE_MAX_STEPS: "50",
      DVAR_DEVICE: "nvidia-l40s",
      DVAR_SLICE_LEASE_GRACE_MS: "60000",
      DVAR_SLICE_LEASE_TTL_MS: "0",
      DVAR_ORT_PROVIDERS: "cuda, cpu",
    });
    expect(config).toEqual({
      store: { kind: "s3", bucket: "dvar-jobs", endpoint: "http://127.0.0.1:7480", keyPrefix: "prod/", forcePathStyle: true, copyMode: "copy-object" },
      budget: { maxWallMs: 120_000, maxSteps: 50 },
      leaseGraceMs: 60_000,
      leaseTtlMs: 0,
      device: "nvidia-l40s",
      executionProviders: ["cuda", "cpu"],
    });
    expect(createStore(config.store)).toBeInstanceOf(S3Store);
    // Unset: onnxruntime's default (the CPU), and no key at all.
    expect(parseWorkerConfig({})).not.toHaveProperty("executionProviders");
  });

  it.each([
    [{ DVAR_STORE: "memory" }, /DVAR_STORE/],
    [{ DVAR_STORE: "s3" }, /DVAR_S3_BUCKET/],
    [{ DVAR_STORE: "s3", DVAR_S3_BUCKET: "Bad_Bucket" }, /DVAR_S3_BUCKET/],
    [{ DVAR_SLICE_MAX_MS: "10" }, /DVAR_SLICE_MAX_MS/],
    [{ DVAR_SLICE_LEASE_TTL_MS: "-1" }, /DVAR_SLICE_LEASE_TTL_MS/],
    [{ DVAR_DEVICE: "NVIDIA H100" }, /DVAR_DEVICE/],
    [{ DVAR_S3_KEY_PREFIX: "../x/" }, /DVAR_S3_KEY_PREFIX/],
    [{ DVAR_S3_COPY: "server" }, /DVAR_S3_COPY/],
    [{ DVAR_ORT_PROVIDERS: "cuda,tensorrt" }, /one of cuda, cpu[\s\S]*DVAR_ORT_PROVIDERS/],
    [{ DVAR_ORT_PROVIDERS: "cpu,cpu" }, /named twice[\s\S]*DVAR_ORT_PROVIDERS/],
  ])("refuses %j", (env, message) => {
    expect(() => parseWorkerConfig(env)).toThrow(InvalidWorkerConfigError);
    expect(() => parseWorkerConfig(env)).toThrow(message);
  });
});

describe("runSliceFunction", () => {
  it("runs a job to the end in one process with the in-process dispatcher and the filesystem store", async () => {
    const { dir, store } = await fsJob();
    const lines: string[] = [];
    const events = new RecordingEvents();
    const code = await runSliceFunction(["--job", "job1", "--slice", "0"], { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "5" }, { log: (l) => lines.push(l), events });
    expect(code).toBe(0);
    expect((await new JobStore(store).read("job1"))!.record).toMatchObject({ status: "succeeded", slice: 3, step: 12 });
    expect(events.events.map((e) => e[1])).toEqual(["inversion.started", "inversion.succeeded"]);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { event: "slice_start", jobId: "job1", slice: 0 },
      { event: "slice_done", jobId: "job1", slice: 0, result: "advanced" },
      { event: "slice_done", jobId: "job1", slice: 1, result: "advanced" },
      { event: "slice_done", jobId: "job1", slice: 2, result: "advanced" },
    ]);
  });

  it("hands the invocation and the configured ports to an injected slice service", async () => {
    const { dir } = await fsJob();
    const seen: unknown[] = [];
    const code = await runSliceFunction(["--job", "job1", "--slice", "4"], { DVAR_STORE_DIR: dir, DVAR_DEVICE: "gpu0" }, {
      log: () => {},
      createService: (ports) => {
        seen.push(ports.worker.device, ports.store instanceof FsStore);
        const fake: SliceService = {
          run: async (invocation) => {
            seen.push(invocation);
            return { kind: "stale", job: undefined as never, reason: "test" };
          },
        };
        return fake;
      },
    });
    expect(code).toBe(0);
    expect(seen).toEqual(["gpu0", true, { jobId: "job1", slice: 4 }]);
  });

  it("exits 2 on a bad invocation or configuration and 1 when the slice fails", async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    expect(await runSliceFunction(["--job", "j"], {}, { log })).toBe(2);
    expect(lines.pop()).toMatch(/needs --job/);
    expect(await runSliceFunction(["--job", "j", "--slice", "0"], { DVAR_DISPATCHER: "modal", DVAR_STORE: "fs" }, { log })).toBe(2);
    expect(lines.pop()).toMatch(/DVAR_STORE=s3/);
    const { dir } = await fsJob();
    expect(await runSliceFunction(["--job", "missing", "--slice", "0"], { DVAR_STORE_DIR: dir }, { log })).toBe(1);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ event: "slice_error", jobId: "missing", error: expect.stringMatching(/JobNotFoundError/) });
  });

  it("an interrupt stops the job after one update with a checkpoint, and a later run resumes it", async () => {
    const { dir, store } = await fsJob();
    const stop = new AbortController();
    stop.abort();
    const env = { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "5" };
    expect(await runSliceFunction(["--job", "job1", "--slice", "0"], env, { log: () => {}, signal: stop.signal })).toBe(0);
    expect((await new JobStore(store).read("job1"))!.record).toMatchObject({ status: "running", slice: 1, step: 1 });
    expect(await runSliceFunction(["--job", "job1", "--slice", "1"], env, { log: () => {} })).toBe(0);
    expect((await new JobStore(store).read("job1"))!.record).toMatchObject({ status: "succeeded", step: 12 });
  });
});

describe("runSliceFunction and webhooks", () => {
  async function hookedJob() {
    const dir = join(root, String(dirs++));
    const store = new FsStore({ root: dir });
    const record = newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: syntheticConfig(), webhook: { url: "http://127.0.0.1:9/hook" }, now: new Date() });
    await new JobStore(store).create(record);
    return { dir, store };
  }

  it("delivers the job's events from the outbox after the slice, signed with the tenant's secret", async () => {
    const { dir, store } = await hookedJob();
    const sent: Array<{ headers: Record<string, string>; body: string }> = [];
    const env = { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "5", DVAR_ALLOW_PRIVATE_WEBHOOKS: "true" };
    const code = await runSliceFunction(["--job", "job1", "--slice", "0"], env, {
      log: () => {},
      webhookFetch: async (_url, init) => (sent.push({ headers: init.headers, body: init.body }), { status: 200 }),
    });
    expect(code).toBe(0);
    const { Webhook } = await import("standardwebhooks");
    const { WebhookSecretStore } = await import("../../src/services/webhooks/index.js");
    const [secret] = await new WebhookSecretStore({ store }).activeSecrets("t1");
    const types = sent.map(({ headers, body }) => (new Webhook(secret!).verify(body, headers) as { type: string }).type);
    expect(types.sort()).toEqual(["inversion.started", "inversion.succeeded"]);
  });

  it("leaves a failed delivery pending for a later pass and refuses a loopback URL unless allowed", async () => {
    const failing = await hookedJob();
    const code = await runSliceFunction(["--job", "job1", "--slice", "0"], { DVAR_STORE_DIR: failing.dir, DVAR_SLICE_MAX_STEPS: "5", DVAR_ALLOW_PRIVATE_WEBHOOKS: "true" }, {
      log: () => {},
      webhookFetch: async () => ({ status: 500 }),
    });
    expect(code).toBe(0);
    const { WebhookOutbox } = await import("../../src/services/webhooks/index.js");
    const pending = (await new WebhookOutbox(failing.store).read("job1", "inversion.succeeded"))!.record;
    expect(pending).toMatchObject({ status: "pending", attempts: [{ status: 500 }] });

    const guarded = await hookedJob();
    let contacted = false;
    await runSliceFunction(["--job", "job1", "--slice", "0"], { DVAR_STORE_DIR: guarded.dir, DVAR_SLICE_MAX_STEPS: "5" }, {
      log: () => {},
      webhookFetch: async () => ((contacted = true), { status: 200 }),
    });
    expect(contacted).toBe(false);
    expect((await new WebhookOutbox(guarded.store).read("job1", "inversion.succeeded"))!.record.status).toBe("refused");
    await expect(runSliceFunction(["--job", "job1", "--slice", "0"], { DVAR_STORE_DIR: guarded.dir, DVAR_ALLOW_PRIVATE_WEBHOOKS: "yes" }, { log: () => {} })).resolves.toBe(2);
  });
});
