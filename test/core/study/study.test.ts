/**
 * The trajectory study's pure parts: a recorded run replays any stopping rule exactly as
 * the slice runner would have applied it (same stop step, same parameters bit for bit),
 * the CLIP-s rule on a score series with a known answer, the methods' arithmetic, the
 * statistics against hand-computed values, and the semi-deterministic ablation on the
 * synthetic objective (whose loss is dominated by its timestep-like variable by design).
 */
import { describe, expect, it } from "vitest";
import { syntheticConfig } from "../../../src/cli/invert/setup.js";
import { createInitialState, type InversionState, runSlice } from "../../../src/core/inversion/index.js";
import { CRITERION_PRESETS } from "../../../src/core/stopping/index.js";
import {
  baselineCheckpoints,
  baselineOutcome,
  clipSOutcome,
  dvarOutcome,
  earlyLateWelchT,
  fewItersSteps,
  lateVarianceRatio,
  medianIqr,
  paramsAt,
  perStep,
  quantile,
  recordTrajectory,
  replayRule,
  secondsUpTo,
  semiDeterministicAblation,
  trendStatistics,
} from "../../../src/core/study/index.js";
import { createSyntheticObjective } from "../../../src/core/synthetic/objective.js";

const clock = () => 0;

async function runWithRule(seed: number, maxSteps: number, stop: "dvar" | "dvar-paper"): Promise<InversionState> {
  const objective = createSyntheticObjective(seed);
  let state = createInitialState(syntheticConfig(seed, maxSteps, stop), objective.initialParams());
  while (!state.finished) state = (await runSlice(state, { objective, budget: { maxSteps: 37 }, clock })).state;
  return state;
}

describe("a recorded trajectory replays the stopping rules", () => {
  it("DVAR's post-hoc stop and parameters equal a run with the rule, bit for bit (both presets)", async () => {
    const seed = 3;
    const objective = createSyntheticObjective(seed);
    const t = await recordTrajectory(objective, syntheticConfig(seed, 1500, "fixed"), objective.initialParams(), { clock, sliceSteps: 64 });
    expect(t.steps).toBe(1500);
    expect(Array.from(paramsAt(t, 0))).toEqual(Array.from(objective.initialParams()));
    for (const preset of ["dvar", "dvar-paper"] as const) {
      const replay = replayRule(CRITERION_PRESETS[preset], perStep(t.ldet));
      const run = await runWithRule(seed, 1500, preset);
      expect(run.finished?.kind).toBe("converged");
      expect(replay.stopStep).toBe(run.step);
      expect(Buffer.from(paramsAt(t, run.step).slice().buffer)).toEqual(Buffer.from(run.params.slice().buffer));
      expect(t.ldet.slice(0, run.step)).toEqual(run.history.ldet);
      expect(replay.values.slice(0, run.step).map((v) => v ?? NaN)).toEqual(run.history.criterion);
    }
  });

  it("splits each update's time into the training step and L_det", async () => {
    let now = 0;
    const objective = createSyntheticObjective(1);
    const ticking = { ...objective, evalLoss: async (p: Float32Array) => ((now += 3), objective.evalLoss(p)), trainLossAndGradient: async (s: number, p: Float32Array) => ((now += 10), objective.trainLossAndGradient(s, p)) };
    const t = await recordTrajectory(ticking, syntheticConfig(1, 20, "fixed"), objective.initialParams(), { clock: () => now });
    expect(t.ldetMs).toEqual(new Array(20).fill(3));
    expect(t.trainMs).toEqual(new Array(20).fill(10));
  });
});

describe("CLIP-s (patience 5, eps 0.05, every 50) on a known series", () => {
  it("stops at the fifth evaluation in a row that does not beat the best by more than eps", () => {
    // 50: first (best 0.50); 100: 0.56 improves; 150..250 within eps (3 misses); 300: 0.62 improves (> 0.61);
    // 350..550: five misses (0.66 is not > 0.67) -> stop at 550.
    const scores = [0.5, 0.56, 0.6, 0.61, 0.55, 0.62, 0.6, 0.66, 0.64, 0.67, 0.5, 0.9];
    const replay = replayRule(CRITERION_PRESETS.patience, scores.map((value, i) => ({ step: 50 * (i + 1), value })));
    expect(replay.stopStep).toBe(550);
    expect(replay.values.slice(0, 11)).toEqual([0, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5]);
  });
  it("ignores observations off its cadence and never stops on a rising series", () => {
    const rising = Array.from({ length: 40 }, (_, i) => ({ step: 25 * (i + 1), value: 0.06 * i }));
    const replay = replayRule(CRITERION_PRESETS.patience, rising);
    expect(replay.steps).toEqual(rising.filter((o) => o.step % 50 === 0).map((o) => o.step));
    expect(replay.stopStep).toBeNull();
  });
});

describe("the methods' iterations, score and time", () => {
  const costs = { trainMs: new Array(1000).fill(100), ldetMs: new Array(1000).fill(40), scoreMs: 2000 };
  const score = (step: number) => (step === 0 ? 0.1 : step === 600 || step === 800 ? 0.9 : 0.5 + step / 1e5);
  it("Baseline: best of every `every` steps and the last, earliest on ties; pays one score per checkpoint", () => {
    expect(baselineCheckpoints(1000, 200)).toEqual([200, 400, 600, 800, 1000]);
    expect(baselineCheckpoints(1050, 500)).toEqual([500, 1000, 1050]);
    const b = baselineOutcome(score, 1000, 200, costs);
    expect(b).toEqual({ step: 1000, stopped: true, score: 0.9, bestStep: 600, seconds: 100 + 5 * 2, evaluations: 5 });
  });
  it("CLIP-s pays a score every 50 steps up to its stop; DVAR pays L_det every step; capped runs are marked", () => {
    expect(clipSOutcome(score, 300, 1000, 50, costs)).toEqual({ step: 300, stopped: true, score: score(300), seconds: 30 + 6 * 2, evaluations: 6 });
    expect(clipSOutcome(score, null, 1000, 50, costs).stopped).toBe(false);
    expect(dvarOutcome(score, 250, 1000, costs)).toEqual({ step: 250, stopped: true, score: score(250), seconds: 25 + 10, evaluations: 0 });
    expect(dvarOutcome(score, null, 1000, costs)).toMatchObject({ step: 1000, stopped: false });
    expect(secondsUpTo([1000, 2000, 3000], 2)).toBe(3);
    expect(() => secondsUpTo([1], 2)).toThrow(RangeError);
  });
  it("Few iters: the max and the rounded mean of the CLIP-s stops", () => {
    expect(fewItersSteps([300, 450, 400])).toEqual({ max: 450, mean: 383 });
    expect(() => fewItersSteps([])).toThrow(RangeError);
  });
});

describe("statistics", () => {
  it("quantiles interpolate linearly (numpy's default)", () => {
    // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) = [1.75, 2.5, 3.25]; [7, 1, 3] -> median 3
    expect(medianIqr([4, 1, 3, 2])).toEqual({ median: 2.5, q1: 1.75, q3: 3.25, iqr: 1.5 });
    expect(quantile([7, 1, 3], 0.5)).toBe(3);
  });
  it("Welch's t and the late-variance ratio by hand", () => {
    // early [1, 2, 3]: mean 2, sample var 1; late [7, 8, 9]: mean 8, var 1 -> t = -6 / sqrt(2/3)
    expect(earlyLateWelchT([1, 2, 3, 0, 7, 8, 9], 3)).toBeCloseTo(-6 / Math.sqrt(2 / 3), 12);
    // var([1, 1, 3, 3]) = 1, var([3, 3]) = 0 -> 0
    expect(lateVarianceRatio([1, 1, 3, 3], 2)).toBe(0);
    expect(() => earlyLateWelchT([1, 2, 3], 2)).toThrow(RangeError);
  });
});

describe("semi-deterministic ablation on the synthetic objective", () => {
  it("redrawing the timesteps hides the trend that L_det shows", async () => {
    const seed = 5;
    const objective = createSyntheticObjective(seed);
    const t = await recordTrajectory(objective, syntheticConfig(seed, 1000, "fixed"), objective.initialParams(), { clock });
    const ablation = await semiDeterministicAblation(objective, (s) => paramsAt(t, s), 1000);
    expect(Object.keys(ablation.series).sort()).toEqual(["data", "noise", "none", "timesteps"]);
    expect(ablation.series.none).toEqual(t.ldet); // nothing redrawn = L_det
    const stats = Object.fromEntries(trendStatistics(ablation, 310).map((s) => [s.variant, s]));
    expect(stats.none!.earlyLateT).toBeGreaterThan(10);
    expect(stats.none!.varianceRatio).toBeLessThan(0.15);
    expect(Math.abs(stats.timesteps!.earlyLateT)).toBeLessThan(3);
    expect(stats.timesteps!.varianceRatio).toBeGreaterThan(0.5);
    for (const v of ["noise", "data"]) expect(Math.abs(stats.timesteps!.earlyLateT)).toBeLessThan(Math.abs(stats[v]!.earlyLateT));
  });
  it("refuses a source the objective cannot redraw", async () => {
    const objective = createSyntheticObjective(1);
    await expect(semiDeterministicAblation(objective, () => objective.initialParams(), 3, { sources: ["latents"] })).rejects.toThrow(/latents/);
  });
});
