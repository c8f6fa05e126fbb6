/**
 * DVAR calibration on recorded runs: a candidate's stop is the paper's formula applied by
 * brute force (population variances of numpy), the outcome's arithmetic, and the
 * selection rule (feasibility, best median ratio, cheapest within the tolerance) on
 * outcomes built by hand so that each clause decides one case.
 */
import { describe, expect, it } from "vitest";
import { normals, RngStream } from "../../../src/core/rng/stream.js";
import {
  type CalibrationConcept,
  type CandidateOutcome,
  candidateOutcome,
  candidateStop,
  chooseCandidate,
  DEFAULT_CALIBRATION_GRID,
  leaveOneOut,
  stepsToScore,
} from "../../../src/core/study/index.js";

/** The paper's rule written out: first s >= N with var(x[s-N..s)) / var(x[0..s)) < alpha. */
function bruteForceStop(xs: readonly number[], window: number, alpha: number): number | null {
  const variance = (v: readonly number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
  };
  for (let s = window; s <= xs.length; s++) {
    if (variance(xs.slice(s - window, s)) / variance(xs.slice(0, s)) < alpha) return s;
  }
  return null;
}

/** A loss that falls exponentially to a noisy plateau: the shape DVAR is built for. */
function fallingLoss(seed: number, steps: number, rate: number): number[] {
  const noise = normals({ seed, stream: RngStream.synthetic, step: 0 }, steps);
  return Array.from({ length: steps }, (_, i) => 0.2 + 0.8 * Math.exp(-rate * i) + 0.01 * noise[i]!);
}

describe("candidateStop", () => {
  it("is the paper's formula (brute force) for every window/threshold pair tried", () => {
    const xs = fallingLoss(3, 900, 0.01);
    for (const window of [20, 60, 150]) {
      for (const threshold of [0.1, 0.39, 0.6]) {
        expect(candidateStop({ window, threshold }, xs)).toBe(bruteForceStop(xs, window, threshold));
      }
    }
  });

  it("never fires on a series shorter than the window", () => {
    expect(candidateStop({ window: 50, threshold: 0.9 }, fallingLoss(1, 49, 0.1))).toBeNull();
  });
});

describe("candidateOutcome", () => {
  const concepts: CalibrationConcept[] = [
    { name: "fast", ldet: fallingLoss(1, 1000, 0.05), baselineScore: 0.8 },
    { name: "slow", ldet: fallingLoss(2, 1000, 0.005), baselineScore: 0.5 },
  ];
  // score grows with the step, so a later stop scores higher
  const scoreAt = (concept: string, step: number) => (concept === "fast" ? 0.8 : 0.5) * Math.min(1, step / 500);

  it("takes each concept's stop, its score and ratio, and the medians", () => {
    const c = { window: 100, threshold: 0.39 };
    const o = candidateOutcome(c, concepts, scoreAt, { maxFraction: 0.5, tolerance: 0.01, steps: 1000 });
    const stops = concepts.map((k) => bruteForceStop(k.ldet, 100, 0.39)!);
    expect(stops[0]).toBeLessThan(stops[1]!);
    expect(o.concepts.map((k) => k.step)).toEqual(stops);
    expect(o.concepts.map((k) => k.ratio)).toEqual(stops.map((s) => Math.min(1, s / 500)));
    expect(o.medianSteps).toBe((stops[0]! + stops[1]!) / 2);
    const scores = stops.map((s, i) => [0.8, 0.5][i]! * Math.min(1, s / 500));
    expect(o.medianRatio).toBeCloseTo((scores[0]! + scores[1]!) / 2 / ((0.8 + 0.5) / 2), 12);
    expect(o.maxSteps).toBe(stops[1]);
    expect(o.feasible).toBe(stops[1]! <= 500);
  });

  it("counts a rule that never fires as the whole run and infeasible", () => {
    const o = candidateOutcome({ window: 100, threshold: 1e-9 }, concepts, scoreAt, { maxFraction: 1, tolerance: 0.01, steps: 1000 });
    expect(o.concepts.every((k) => !k.stopped && k.step === 1000)).toBe(true);
    expect(o.feasible).toBe(false);
  });

  it("needs scores only at the steps stepsToScore names", () => {
    const asked = new Map<string, Set<number>>();
    const grid = DEFAULT_CALIBRATION_GRID.slice(0, 20);
    const needed = stepsToScore(grid, concepts);
    for (const c of grid) {
      candidateOutcome(c, concepts, (name, step) => {
        if (!asked.has(name)) asked.set(name, new Set());
        asked.get(name)!.add(step);
        expect(needed.get(name)!.has(step)).toBe(true);
        return 0.5;
      }, { maxFraction: 1, tolerance: 0, steps: 1000 });
    }
    expect(asked).toEqual(needed);
  });
});

describe("chooseCandidate", () => {
  const rule = { maxFraction: 0.15, tolerance: 0.01, steps: 6100 };
  const outcome = (window: number, medianSteps: number, medianRatio: number, feasible = true): CandidateOutcome => ({
    window, threshold: 0.3, concepts: [], medianSteps, maxSteps: medianSteps, medianRatio, feasible,
  });

  it("returns null when nothing is feasible", () => {
    expect(chooseCandidate([outcome(1, 100, 1, false)], rule)).toBeNull();
  });

  it("ignores infeasible candidates however good they score", () => {
    expect(chooseCandidate([outcome(1, 100, 1.2, false), outcome(2, 400, 0.9)], rule)!.window).toBe(2);
  });

  it("takes the cheapest candidate within the tolerance of the best ratio", () => {
    const picked = chooseCandidate([outcome(1, 500, 0.99), outcome(2, 300, 0.985), outcome(3, 200, 0.97)], rule);
    expect(picked!.window).toBe(2); // 3 is cheaper but 0.02 below the best
  });

  it("breaks a tie in steps by the larger ratio, then by grid order", () => {
    expect(chooseCandidate([outcome(1, 300, 0.98), outcome(2, 300, 0.985)], rule)!.window).toBe(2);
    expect(chooseCandidate([outcome(1, 300, 0.98), outcome(2, 300, 0.98)], rule)!.window).toBe(1);
  });
});

describe("leaveOneOut", () => {
  const rule = { maxFraction: 1, tolerance: 0, steps: 1000 };
  const concepts: CalibrationConcept[] = [1, 2, 3].map((seed, i) => ({ name: `c${i}`, ldet: fallingLoss(seed, 1000, [0.05, 0.02, 0.01][i]!), baselineScore: 1 }));
  const grid = [{ window: 50, threshold: 0.3 }, { window: 200, threshold: 0.3 }];
  // the score rewards stopping near step 400 on c0 and c1, and as late as possible on c2
  const scoreAt = (name: string, step: number) => (name === "c2" ? step / 1000 : 1 - Math.abs(step - 400) / 1000);

  it("predicts each concept with the choice made on the others", () => {
    const loo = leaveOneOut(grid, concepts, scoreAt, rule);
    for (const p of loo.predictions) {
      const rest = concepts.filter((k) => k.name !== p.concept);
      const expected = chooseCandidate(grid.map((c) => candidateOutcome(c, rest, scoreAt, rule)), rule)!;
      expect(p.chosen).toEqual({ window: expected.window, threshold: expected.threshold });
      const left = concepts.find((k) => k.name === p.concept)!;
      const step = candidateStop(p.chosen!, left.ldet) ?? 1000;
      expect(p.outcome).toMatchObject({ concept: p.concept, step, score: scoreAt(p.concept, step) });
    }
    const scores = loo.predictions.map((p) => p.outcome!.score).sort((a, b) => a - b);
    expect(loo.medianRatio).toBe(scores[1]);
    expect(loo.maxSteps).toBe(Math.max(...loo.predictions.map((p) => p.outcome!.step)));
  });

  it("needs two concepts", () => {
    expect(() => leaveOneOut(grid, concepts.slice(0, 1), scoreAt, rule)).toThrow(RangeError);
  });
});
