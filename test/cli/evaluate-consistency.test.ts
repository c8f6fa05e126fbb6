/**
 * The study's post-hoc DVAR equals a real `dvar invert` with the same seed: the step
 * where the rule fires, the ratio at every step, and the embedding byte for byte. On the
 * synthetic objective (where DVAR fires within the budget), and on the bundled model with
 * a short budget (40 steps, so the test stays short: the rule cannot fire before N steps,
 * and the run must end at the cap with the trajectory's embedding of that step).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliIo, runInvert } from "../../src/cli/invert/index.js";
import { syntheticConfig } from "../../src/cli/invert/setup.js";
import { decodeSafetensors } from "../../src/core/io/safetensors.js";
import { CRITERION_PRESETS } from "../../src/core/stopping/index.js";
import { paramsAt, perStep, recordTrajectory, replayRule } from "../../src/core/study/index.js";
import { createSyntheticObjective } from "../../src/core/synthetic/objective.js";
import { encodeDiffusersEmbedding } from "../../src/engine/embeddings/index.js";
import { describeConcept, dvarReplays, trainTrajectory } from "../../src/engine/evaluation/concept-study.js";
import { defaultStudySettings } from "../../src/engine/evaluation/study-settings.js";
import { openInversion } from "../../src/engine/inversion/job.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dvar-study-"));
  dirs.push(dir);
  return dir;
}
function quietIo(): CliIo {
  let t = 0;
  return { stdout: { write: () => true }, stderr: { write: () => true }, now: () => (t += 1), onInterrupt: () => () => {} };
}
const bytes = (a: Float32Array) => Buffer.from(a.slice().buffer);

describe("post-hoc DVAR = dvar invert", () => {
  it("on the synthetic objective: same stop step, ratios and final parameters", async () => {
    const seed = 4;
    const out = await tempDir();
    expect(await runInvert(["--synthetic", "--stop", "dvar", "--seed", String(seed), "--max-steps", "2000", "--out", out], quietIo())).toBe(0);
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
    const history = JSON.parse(await readFile(join(out, "history.json"), "utf8"));
    const final = decodeSafetensors(new Uint8Array(await readFile(join(out, "params.safetensors")))).tensors.final!.data as Float32Array;

    const objective = createSyntheticObjective(seed);
    const trajectory = await recordTrajectory(objective, syntheticConfig(seed, 2000, "fixed"), objective.initialParams(), { clock: () => 0 });
    const replay = replayRule(CRITERION_PRESETS.dvar, perStep(trajectory.ldet));
    expect(summary.status).toBe("converged");
    expect(replay.stopStep).toBe(summary.stoppedAtStep);
    expect(replay.values.slice(0, replay.stopStep!)).toEqual(history.history.criterion);
    expect(bytes(paramsAt(trajectory, replay.stopStep!))).toEqual(bytes(final));
  });

  it("on the bundled model (arrow, dvar-paper, 40 steps): same outcome, ratios and learned_embeds.safetensors", async () => {
    const steps = 40;
    const out = await tempDir();
    const code = await runInvert(
      ["--model", "models/tiny-sd", "--images", "examples/concepts/arrow", "--token", "<arrow>", "--init", "triangle", "--stop", "dvar-paper", "--max-steps", String(steps), "--threads", "1", "--out", out],
      quietIo(),
    );
    expect(code).toBe(0);
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
    const history = JSON.parse(await readFile(join(out, "history.json"), "utf8"));

    const settings = defaultStudySettings("models/tiny-sd", { steps, threads: 1 });
    const description = await describeConcept({ name: "arrow", dir: "examples/concepts/arrow" }, settings);
    expect(description.initializer.token).toBe("triangle</w>");
    const job = await openInversion(description, settings.seed, { threads: 1 });
    let trajectory;
    try {
      trajectory = await trainTrajectory(job, settings);
    } finally {
      await job.close();
    }
    const replay = dvarReplays(trajectory.ldet)["dvar-paper"];
    const stop = replay.stop ?? steps;
    expect(summary.status).toBe(replay.stop === null ? "max_steps" : "converged");
    expect(summary.stoppedAtStep).toBe(stop);
    expect(replay.ratio.slice(0, stop)).toEqual(history.columns.dvar_ratio);
    expect(summary.status).toBe("max_steps"); // N = 282 values are needed before the ratio exists
    const embedding = { token: "<arrow>", numVectors: 1, hiddenSize: trajectory.size, vectors: paramsAt(trajectory, stop).slice(), step: stop };
    expect(Buffer.from(await readFile(join(out, "learned_embeds.safetensors")))).toEqual(Buffer.from(encodeDiffusersEmbedding(embedding)));
  }, 300_000);
});
