import { describe, expect, it } from "vitest";
import {
  createInitialState,
  InvalidRunError,
  runSlice,
  type InversionConfigInput,
  type Objective,
} from "../../../src/core/inversion/index.js";
import { createAdamW } from "../../../src/core/optim/adamw.js";

/** A small quadratic whose training batch adds a step-dependent offset; L_det is the exact quadratic. */
function quadratic(options: { badLossAt?: number; badLdetBelow?: number; score?: boolean } = {}): Objective & { evals: Float32Array[] } {
  const target = [1, -2, 0.5];
  const evals: Float32Array[] = [];
  const f = (p: Float32Array) => p.reduce((a, x, i) => a + (x - target[i]!) ** 2, 0) / 3;
  const objective: Objective & { evals: Float32Array[] } = {
    size: 3,
    evals,
    async trainLossAndGradient(step, p) {
      const shift = Math.sin(step);
      const grad = Float32Array.from(p, (x, i) => (2 * (x - target[i]! + 0.1 * shift)) / 3);
      return { loss: step === options.badLossAt ? NaN : f(p) + shift, grad };
    },
    async evalLoss(p) {
      evals.push(p);
      const v = f(p);
      return options.badLdetBelow !== undefined && v < options.badLdetBelow ? Infinity : v;
    },
  };
  if (options.score) objective.evalScore = async (p) => -f(p);
  return objective;
}

const clock = () => 0;
const config = (extra: Partial<InversionConfigInput> = {}): InversionConfigInput => ({
  seed: 1,
  learningRate: 0.05,
  stop: { name: "fixed", steps: 1000 },
  maxSteps: 1000,
  ...extra,
});
const init = (extra: Partial<InversionConfigInput> = {}) => createInitialState(config(extra), new Float32Array(3));

describe("runSlice", () => {
  it("updates, then evaluates L_det of the updated parameters, and records every series", async () => {
    const objective = quadratic();
    const { state, outcome, stepsRun } = await runSlice(init(), { objective, budget: { maxSteps: 5 }, clock });
    expect(outcome).toEqual({ kind: "continue", reason: "slice_steps" });
    expect(stepsRun).toBe(5);
    expect(state.step).toBe(5);
    expect(state.optimizer.state.step).toBe(5);
    // Replay the same updates with AdamW directly: L_det entry i is the loss after update i + 1.
    const adamw = createAdamW();
    let p: Float32Array = new Float32Array(3);
    let s = adamw.init(3);
    for (let i = 0; i < 5; i++) {
      const r = await adamw.step(p, s, (q) => objective.trainLossAndGradient(i, q), 0.05);
      p = r.params;
      s = r.state;
      expect(state.history.trainLoss[i]).toBe(r.loss);
      expect(state.history.gradNorm[i]).toBeCloseTo(Math.hypot(...r.grad), 12);
      expect(Array.from(objective.evals[i]!)).toEqual(Array.from(p));
      expect(state.history.ldet[i]).toBe(await quadratic().evalLoss(p));
    }
    expect(Array.from(state.params)).toEqual(Array.from(p));
    expect(state.history.criterion).toEqual([999, 998, 997, 996, 995]); // fixed steps: steps left
    expect(state.history.score.every(Number.isNaN)).toBe(true);
  });

  it("reports every committed update to onUpdate with the history so far, without changing the result", async () => {
    const seen: Array<[number, number, number]> = [];
    const watched = await runSlice(init(), {
      objective: quadratic(),
      budget: { maxSteps: 4 },
      clock,
      onUpdate: (step, _params, history) => seen.push([step, history.trainLoss.length, history.ldet[step - 1]!]),
    });
    const plain = await runSlice(init(), { objective: quadratic(), budget: { maxSteps: 4 }, clock });
    expect(seen.map(([step, rows]) => [step, rows])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
    expect(seen.map(([, , ldet]) => ldet)).toEqual(plain.state.history.ldet);
    expect(Array.from(watched.state.params)).toEqual(Array.from(plain.state.params));
  });

  it("keeps the parameters of the lowest L_det", async () => {
    // A large learning rate overshoots, so L_det is not monotone.
    const { state } = await runSlice(init({ learningRate: 1.5 }), { objective: quadratic(), budget: { maxSteps: 40 }, clock });
    const ldet = state.history.ldet;
    const bestIndex = ldet.indexOf(Math.min(...ldet));
    expect(bestIndex).toBeLessThan(39);
    expect(state.best!.step).toBe(bestIndex + 1);
    expect(state.best!.ldet).toBe(ldet[bestIndex]);
    expect(await quadratic().evalLoss(state.best!.params)).toBe(ldet[bestIndex]);
  });

  it("ends with converged when the rule fires, max_steps at the cap, and then runs nothing more", async () => {
    const fixed = await runSlice(init({ stop: { name: "fixed", steps: 7 } }), { objective: quadratic(), budget: {}, clock });
    expect(fixed.outcome).toEqual({ kind: "converged", step: 7, criterion: "fixed", value: 0 });
    const capped = await runSlice(init({ maxSteps: 4 }), { objective: quadratic(), budget: { maxSteps: 10 }, clock });
    expect(capped.outcome).toEqual({ kind: "max_steps", step: 4 });
    expect(capped.state.finished).toEqual(capped.outcome);
    const again = await runSlice(capped.state, { objective: quadratic(), budget: { maxSteps: 10 }, clock });
    expect(again.stepsRun).toBe(0);
    expect(again.state).toBe(capped.state);
  });

  it("stops with DVAR on L_det and exposes the ratio", async () => {
    const { state, outcome } = await runSlice(init({ stop: { name: "dvar", window: 20, threshold: 0.15 } }), {
      objective: quadratic(),
      budget: {},
      clock,
    });
    expect(outcome.kind).toBe("converged");
    const ratios = state.history.criterion;
    expect(ratios.slice(0, 19).every(Number.isNaN)).toBe(true);
    expect(ratios[ratios.length - 1]).toBeLessThan(0.15);
    expect(ratios.slice(19, -1).every((r) => r >= 0.15)).toBe(true);
  });

  it("fails on a non-finite training loss or L_det without applying the bad update", async () => {
    const before = (await runSlice(init(), { objective: quadratic(), budget: { maxSteps: 3 }, clock })).state;
    const bad = await runSlice(before, { objective: quadratic({ badLossAt: 3 }), budget: {}, clock });
    expect(bad.outcome).toEqual({ kind: "failed", step: 4, reason: "update 4: training loss is NaN" });
    expect(bad.state.step).toBe(3);
    expect(bad.state.params).toBe(before.params);
    expect(bad.state.history.trainLoss.length).toBe(3);
    const inf = await runSlice(init(), { objective: quadratic({ badLdetBelow: 1.5 }), budget: {}, clock });
    expect(inf.outcome.kind).toBe("failed");
    expect((inf.outcome as { reason: string }).reason).toMatch(/L_det is Infinity/);
  });

  it("ends a slice on its wall-clock budget (injected clock) and on interrupt, running at least one update", async () => {
    let now = 0;
    const ticking = () => (now += 10); // every reading advances 10 ms; an update reads the clock 3 times
    const timed = await runSlice(init(), { objective: quadratic(), budget: { maxWallMs: 75 }, clock: ticking });
    expect(timed.outcome).toEqual({ kind: "continue", reason: "slice_time" });
    expect(timed.stepsRun).toBe(3);
    expect(timed.state.history.wallMs).toEqual([10, 10, 10]);
    const tiny = await runSlice(init(), { objective: quadratic(), budget: { maxWallMs: 0 }, clock: ticking });
    expect(tiny.stepsRun).toBe(1);
    let calls = 0;
    const interrupted = await runSlice(init(), { objective: quadratic(), budget: {}, clock, interrupted: () => ++calls >= 4 });
    expect(interrupted.outcome).toEqual({ kind: "continue", reason: "interrupted" });
    expect(interrupted.stepsRun).toBe(4);
  });

  it("computes L_det only every ldetEvery steps or when the rule needs it", async () => {
    const objective = quadratic();
    const { state } = await runSlice(init({ ldetEvery: 3, stop: { name: "dvar", window: 50, every: 2 } }), {
      objective,
      budget: { maxSteps: 9 },
      clock,
    });
    const computed = state.history.ldet.map((v, i) => (Number.isNaN(v) ? null : i + 1)).filter((s) => s !== null);
    expect(computed).toEqual([2, 3, 4, 6, 8, 9]);
    expect(objective.evals.length).toBe(6);
  });

  it("feeds an external score to the patience rule every `every` steps", async () => {
    const { state, outcome } = await runSlice(init({ stop: { name: "patience", every: 5, eps: 1e-3, patience: 2, mode: "max" } }), {
      objective: quadratic({ score: true }),
      budget: {},
      clock,
    });
    expect(outcome.kind).toBe("converged");
    const scored = state.history.score.map((v, i) => (Number.isNaN(v) ? null : i + 1)).filter((s) => s !== null);
    expect(scored.every((s) => s! % 5 === 0)).toBe(true);
    expect(state.history.criterion[state.step - 1]).toBe(2);
    await expect(runSlice(init({ stop: { name: "patience" } }), { objective: quadratic(), budget: {}, clock })).rejects.toThrow(
      InvalidRunError,
    );
  });

  it("refuses an objective of another size and leaves the input state untouched", async () => {
    const state = init();
    await expect(runSlice(state, { objective: { ...quadratic(), size: 4 }, budget: {}, clock })).rejects.toThrow(/4 parameters/);
    await runSlice(state, { objective: quadratic(), budget: { maxSteps: 3 }, clock });
    expect(state.step).toBe(0);
    expect(state.history.trainLoss).toEqual([]);
    expect(Array.from(state.params)).toEqual([0, 0, 0]);
  });

  it("refuses bad initial parameters and configs with errors naming the problem", () => {
    expect(() => createInitialState(config(), new Float32Array(0))).toThrow(InvalidRunError);
    expect(() => createInitialState(config(), Float32Array.from([0, NaN]))).toThrow(/initial parameter 1 is NaN/);
    expect(() => createInitialState(config({ learningRate: -1 }), new Float32Array(3))).toThrow(/learningRate/);
    expect(() => createInitialState({ ...config(), stop: { name: "dvar", threshold: 2 } }, new Float32Array(3))).toThrow(/threshold/);
    expect(() => createInitialState({ ...config(), optimizer: { name: "adamw", beta1: 1 } }, new Float32Array(3))).toThrow(/beta1/);
  });
});
