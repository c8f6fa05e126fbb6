/**
 * Race test with processes: two functions/run-slice.js processes are started at once for the
 * same slice of one job, on a filesystem store shared by the two processes (and, where Ceph is
 * installed, on Ceph RGW through S3). Each carries the job on with the in-process dispatcher, so
 * the two contend for every slice after it too. Exactly one advance per slice must happen: the
 * record is written twice per slice (the winner's lease, then its advance) and never by a loser,
 * one usage record per slice, one checkpoint and one set of outputs remain, and the result
 * equals an uninterrupted run bit for bit. Both processes exit 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCheckpoint } from "../../src/core/checkpoint/index.js";
import { parseInversionConfig } from "../../src/core/inversion/config.js";
import { runSlice } from "../../src/core/inversion/run-slice.js";
import { createInitialState } from "../../src/core/inversion/state.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../src/core/synthetic/objective.js";
import { FsStore, S3Store, type Store } from "../../src/ports/store/index.js";
import { JobStore, newJobRecord } from "../../src/services/jobs/index.js";
import { defaultObjectives, StoreSliceService } from "../../src/services/slices/index.js";
import { usagePrefix } from "../../src/services/usage/index.js";
import { allKeys, RecordingDispatcher, syntheticConfig } from "../services/slices/harness.js";
import { rgwInstalled, rgwRequired, useRgwBucket } from "../support/rgw.js";
import { transpileProject } from "../support/transpile-project.js";
import { runWorker } from "../support/worker-process.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// Long enough (about 10 slices of many steps) that both processes' chains overlap after their start-up.
const STEPS = 20_000;
const SLICE_STEPS = 2_000;
const config = syntheticConfig({ maxSteps: STEPS, stop: { name: "fixed", steps: STEPS } });

const work = mkdtempSync(join(tmpdir(), "race-process-"));
const build = join(work, "build");
beforeAll(() => transpileProject(process.cwd(), build), 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Backend {
  /** The store as this test process sees it, and the environment that gives workers the same one. */
  store(): { store: Store; env: Record<string, string> };
}

async function referenceParams(): Promise<Float32Array> {
  const parsed = parseInversionConfig(config);
  const objective = createSyntheticObjective(parsed.seed, syntheticSettingsFrom(parsed.objective));
  return (await runSlice(createInitialState(parsed, objective.initialParams()), { objective, budget: {}, clock: () => 0 })).state.params;
}

/** Runs two workers for `slice` at once, after advancing a fresh job to it in this process. */
async function race(backend: Backend, slice: number) {
  const { store, env } = backend.store();
  const jobs = new JobStore(store);
  await jobs.create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config, now: new Date() }));
  const here = new StoreSliceService({ store, dispatcher: new RecordingDispatcher(), objectives: defaultObjectives(), budget: { maxSteps: SLICE_STEPS }, device: "cpu" });
  for (let s = 0; s < slice; s++) expect((await here.run({ jobId: "job1", slice: s })).kind).toBe("advanced");

  const workerEnv = { ...env, DVAR_SLICE_MAX_STEPS: String(SLICE_STEPS) };
  const args = ["--job", "job1", "--slice", String(slice)];
  const exits = await Promise.all([0, 1].map(() => runWorker(build, { script: "functions/run-slice.js", args, env: workerEnv })));
  for (const exit of exits) expect(exit.code, exit.output).toBe(0);
  // Every slice either process ran, with how it ended ("advanced", "lost", ...), from their logs.
  const done = exits.flatMap((e) =>
    e.output
      .split("\n")
      .filter((l) => l.includes('"slice_done"'))
      .map((l) => JSON.parse(l) as { slice: number; result: string }),
  );

  const job = (await jobs.read("job1"))!.record;
  const slices = STEPS / SLICE_STEPS;
  expect(job).toMatchObject({ status: "succeeded", step: STEPS, slice: slices, lease: null });
  // Two record writes per slice (lease, advance): no loser ever wrote it.
  expect(job.revision).toBe(2 * slices);
  // One usage record per slice, one checkpoint, one set of outputs.
  const usage = await allKeys(store, usagePrefix("t1"));
  expect(usage).toHaveLength(slices);
  expect(await allKeys(store, "jobs/job1/checkpoints/")).toEqual([job.checkpoint]);
  const outputs = await allKeys(store, "jobs/job1/outputs/");
  expect(outputs).toEqual(Object.values(job.outputs!).sort());
  const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body);
  expect(Buffer.from(state.params.buffer).equals(Buffer.from((await referenceParams()).buffer))).toBe(true);
  // Exactly one advance of every slice from the raced one on, across both processes.
  for (let s = slice; s < slices; s++) expect(done.filter((d) => d.slice === s && d.result === "advanced"), JSON.stringify(done)).toHaveLength(1);
  expect(done.every((d) => ["advanced", "lost", "repaired", "stale"].includes(d.result)), JSON.stringify(done)).toBe(true);
  return done;
}

function describeRaces(name: string, backend: () => Backend) {
  describe(`two worker processes on one job (${name})`, () => {
    it("racing for the first slice (the claim) and for a slice mid-job: one advance per slice, both exit 0", async () => {
      for (const slice of [0, 4]) {
        const done = await race(backend(), slice);
        // A loser stops cleanly: lost (lease held or record moved on), repaired (came just after
        // the slice was done) or stale (came later still).
        const lost = done.filter((d) => d.result !== "advanced");
        console.log(`${name}, race at slice ${slice}: ${lost.map((d) => `slice ${d.slice} ${d.result}`).join(", ")}`);
      }
    }, 240_000);
  });
}

let dirs = 0;
describeRaces("filesystem store", () => ({
  store: () => {
    const dir = join(work, `store-${dirs++}`);
    return { store: new FsStore({ root: dir }), env: { DVAR_STORE_DIR: dir } };
  },
}));

if (rgwInstalled() || rgwRequired) {
  const gateway = useRgwBucket("race");
  const bucket = gateway.bucket;
  describeRaces("S3 on Ceph RGW", () => ({
    store: () => {
      const keyPrefix = `race-${randomBytes(6).toString("hex")}/`;
      const credentials = { accessKeyId: gateway.rgw().accessKeyId, secretAccessKey: gateway.rgw().secretAccessKey };
      return {
        store: new S3Store({ bucket, keyPrefix, endpoint: gateway.rgw().endpoint, forcePathStyle: true, credentials }),
        env: {
          DVAR_STORE: "s3",
          DVAR_S3_BUCKET: bucket,
          DVAR_S3_ENDPOINT: gateway.rgw().endpoint,
          DVAR_S3_REGION: "us-east-1",
          DVAR_S3_FORCE_PATH_STYLE: "true",
          DVAR_S3_KEY_PREFIX: keyPrefix,
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        },
      };
    },
  }));
}
