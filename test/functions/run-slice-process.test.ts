/**
 * The slice function as a real process: SIGTERM interrupts a running slice, which checkpoints and
 * exits 0 without dispatching a successor; the next invocation resumes from that checkpoint, and
 * the parameters match an uninterrupted in-memory run of the same number of steps bit for bit.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCheckpoint } from "../../src/core/checkpoint/index.js";
import { parseInversionConfig } from "../../src/core/inversion/config.js";
import { runSlice } from "../../src/core/inversion/run-slice.js";
import { createInitialState } from "../../src/core/inversion/state.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../src/core/synthetic/objective.js";
import { FsStore } from "../../src/ports/store/index.js";
import { JobStore, newJobRecord } from "../../src/services/jobs/index.js";
import { transpileProject } from "../support/transpile-project.js";
import { syntheticConfig } from "../services/slices/harness.js";

const work = mkdtempSync(join(tmpdir(), "run-slice-process-"));
const build = join(work, "build");
// Transpiling ~200 files takes 5-10 s on a loaded machine: more than vitest's default hook timeout.
beforeAll(() => transpileProject(process.cwd(), build), 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the entrypoint; sends SIGTERM once it has logged the slice's start and the job record shows it running. */
function runAndTerminate(storeDir: string, slice: number, store: FsStore): Promise<{ code: number | null; output: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(build, "functions/run-slice.js"), "--job", "job1", "--slice", String(slice)], {
      env: { PATH: process.env.PATH, DVAR_STORE_DIR: storeDir },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let sentAt = 0;
    let startLoggedAt = 0;
    const started = Date.now();
    const poll = setInterval(async () => {
      const job = await new JobStore(store).read("job1");
      // The start line comes after the signal handlers are installed (however slow the load under CI);
      // a little longer lets the slice compute some steps before it is interrupted.
      if (startLoggedAt === 0 && output.includes('"event":"slice_start"')) startLoggedAt = Date.now();
      if (job?.record.status === "running" && startLoggedAt > 0 && Date.now() - startLoggedAt > 300 && sentAt === 0) {
        sentAt = Date.now();
        child.kill("SIGTERM");
      }
    }, 50);
    const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timeout);
      resolve({ code, output, ms: Date.now() - (sentAt || started) });
    });
  });
}

describe("functions/run-slice.js in a child process", () => {
  it("SIGTERM checkpoints and exits; the next slice resumes exactly where it stopped", async () => {
    const storeDir = join(work, "store");
    const store = new FsStore({ root: storeDir });
    // A run far longer than the test: only the signal ends its slices.
    const config = syntheticConfig({ maxSteps: 10_000_000, stop: { name: "fixed", steps: 9_000_000 } });
    await new JobStore(store).create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config, now: new Date() }));

    const first = await runAndTerminate(storeDir, 0, store);
    expect(first.code, first.output).toBe(0);
    expect(first.ms).toBeLessThan(5_000);
    const afterFirst = (await new JobStore(store).read("job1"))!.record;
    expect(afterFirst).toMatchObject({ status: "running", slice: 1 });
    expect(afterFirst.step).toBeGreaterThan(0);

    const second = await runAndTerminate(storeDir, 1, store);
    expect(second.code, second.output).toBe(0);
    const job = (await new JobStore(store).read("job1"))!.record;
    expect(job).toMatchObject({ status: "running", slice: 2 });
    expect(job.step).toBeGreaterThan(afterFirst.step);
    expect(job.lastSlice).toMatchObject({ slice: 1, steps: job.step - afterFirst.step });

    // The same number of steps in one uninterrupted in-memory run.
    const parsed = parseInversionConfig(config);
    const objective = createSyntheticObjective(parsed.seed, syntheticSettingsFrom(parsed.objective));
    const reference = await runSlice(createInitialState(parsed, objective.initialParams()), { objective, budget: { maxSteps: job.step }, clock: () => 0 });
    const state = decodeCheckpoint((await store.get(job.checkpoint!))!.body);
    expect(state.step).toBe(job.step);
    expect(Buffer.from(state.params.buffer).equals(Buffer.from(reference.state.params.buffer))).toBe(true);
    expect(state.history.ldet).toEqual(reference.state.history.ldet);
  });
});
