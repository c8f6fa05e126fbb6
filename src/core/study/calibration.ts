/**
 * Calibrating DVAR's N (window) and alpha (threshold) for one model on tuning concepts,
 * from recorded runs only: every candidate's stop is a replay of the rule on a concept's
 * L_det series, its quality the score of the embedding at that step. The paper tuned its
 * two values for Stable Diffusion; a different model (the bundled one) has a different
 * L_det noise level, so the values are refit on tuning concepts and judged on held-out ones.
 *
 * Selection (fixed before looking at held-out concepts):
 *   1. feasible: the rule fires on every tuning concept within `maxFraction` of the run;
 *   2. among feasible candidates, the best score ratio is found: median DVAR score / median
 *      baseline score over the concepts, the statistic of issue 5's bar;
 *   3. the chosen one is the cheapest (fewest median steps) whose median ratio is within
 *      `tolerance` of that best, ties to the larger ratio, then to grid order.
 * Step 3 keeps the choice from chasing score noise: two candidates within `tolerance`
 * are treated as equally good, and the cheaper one is what DVAR is for.
 */
import type { DvarSpec } from "../stopping/spec.js";
import { perStep, replayRule } from "./replay.js";
import { quantile } from "./statistics.js";

export interface DvarCandidate {
  window: number;
  threshold: number;
}

export interface CalibrationConcept {
  name: string;
  /** L_det after each update (entry s - 1 = step s). */
  ldet: readonly number[];
  /** The baseline's score (the run's best checkpoint), the ratio's denominator. */
  baselineScore: number;
}

export interface CalibrationRule {
  /** Every tuning concept must stop within this fraction of `steps` (issue 5: 0.15). */
  maxFraction: number;
  /** Median ratios within this of the best count as equal (0.01 = one percentage point). */
  tolerance: number;
  /** The run length the fraction refers to (the baseline's 6100 steps). */
  steps: number;
}

export const DEFAULT_CALIBRATION_RULE = { maxFraction: 0.15, tolerance: 0.01, steps: 6100 } as const satisfies CalibrationRule;

/** The default grid: the paper's two presets' values and the ones around and below them. */
export const DEFAULT_CALIBRATION_GRID: readonly DvarCandidate[] = [50, 100, 150, 200, 250, 282, 310].flatMap((window) =>
  [0.1, 0.15, 0.2, 0.25, 0.3, 0.39, 0.5, 0.6, 0.7, 0.8].map((threshold) => ({ window, threshold })),
);

export function dvarSpecOf(c: DvarCandidate): DvarSpec {
  return { name: "dvar", window: c.window, threshold: c.threshold, every: 1 };
}

/** Where the candidate's rule first fires on this L_det series (null: never). */
export function candidateStop(c: DvarCandidate, ldet: readonly number[]): number | null {
  return replayRule(dvarSpecOf(c), perStep(ldet)).stopStep;
}

export interface ConceptOutcome {
  concept: string;
  /** The step whose embedding DVAR returns: its stop, or the run's last step if it never fires. */
  step: number;
  stopped: boolean;
  score: number;
  /** score / the concept's baseline score. */
  ratio: number;
}

export interface CandidateOutcome extends DvarCandidate {
  concepts: ConceptOutcome[];
  medianSteps: number;
  maxSteps: number;
  /** Median DVAR score / median baseline score over the concepts (issue 5's statistic). */
  medianRatio: number;
  /** Fires on every concept within maxFraction of the steps. */
  feasible: boolean;
}

/** Steps each candidate needs scored on each concept (to score them before `candidateOutcome`). */
export function stepsToScore(candidates: readonly DvarCandidate[], concepts: readonly CalibrationConcept[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const concept of concepts) {
    const steps = new Set<number>();
    for (const c of candidates) steps.add(candidateStop(c, concept.ldet) ?? concept.ldet.length);
    out.set(concept.name, steps);
  }
  return out;
}

export function candidateOutcome(
  c: DvarCandidate,
  concepts: readonly CalibrationConcept[],
  scoreAt: (concept: string, step: number) => number,
  rule: CalibrationRule,
): CandidateOutcome {
  if (concepts.length === 0) throw new RangeError("calibration needs at least one concept");
  const outcomes = concepts.map((concept): ConceptOutcome => {
    const stop = candidateStop(c, concept.ldet);
    const step = stop ?? concept.ldet.length;
    const score = scoreAt(concept.name, step);
    return { concept: concept.name, step, stopped: stop !== null, score, ratio: score / concept.baselineScore };
  });
  const maxSteps = Math.max(...outcomes.map((o) => o.step));
  return {
    window: c.window,
    threshold: c.threshold,
    concepts: outcomes,
    medianSteps: quantile(outcomes.map((o) => o.step), 0.5),
    maxSteps,
    medianRatio: quantile(outcomes.map((o) => o.score), 0.5) / quantile(concepts.map((k) => k.baselineScore), 0.5),
    feasible: outcomes.every((o) => o.stopped) && maxSteps <= rule.maxFraction * rule.steps,
  };
}

/** The selection of the module comment; null when no candidate is feasible. */
export function chooseCandidate(outcomes: readonly CandidateOutcome[], rule: CalibrationRule): CandidateOutcome | null {
  const feasible = outcomes.filter((o) => o.feasible);
  if (feasible.length === 0) return null;
  const best = Math.max(...feasible.map((o) => o.medianRatio));
  let chosen: CandidateOutcome | null = null;
  for (const o of feasible) {
    if (o.medianRatio < best - rule.tolerance) continue;
    if (chosen === null || o.medianSteps < chosen.medianSteps || (o.medianSteps === chosen.medianSteps && o.medianRatio > chosen.medianRatio)) chosen = o;
  }
  return chosen;
}

export interface LeaveOneOutPrediction {
  concept: string;
  /** The candidate chosen on the other concepts (null: none feasible there). */
  chosen: DvarCandidate | null;
  /** What that candidate does on the left-out concept. */
  outcome: ConceptOutcome | null;
}

export interface LeaveOneOut {
  predictions: LeaveOneOutPrediction[];
  /** Over the predictions that exist: median steps, the slowest, median score / median baseline. */
  medianSteps: number;
  maxSteps: number;
  medianRatio: number;
}

/**
 * Leave-one-out cross-validation of the selection: each tuning concept is predicted by the
 * candidate chosen on the others, so every tuning concept also gets an out-of-sample stop
 * and score (the held-out set gives more of them, on concepts never seen at all).
 */
export function leaveOneOut(
  grid: readonly DvarCandidate[],
  concepts: readonly CalibrationConcept[],
  scoreAt: (concept: string, step: number) => number,
  rule: CalibrationRule,
): LeaveOneOut {
  if (concepts.length < 2) throw new RangeError("leave-one-out needs at least two concepts");
  const predictions = concepts.map((left): LeaveOneOutPrediction => {
    const rest = concepts.filter((k) => k !== left);
    const chosen = chooseCandidate(grid.map((c) => candidateOutcome(c, rest, scoreAt, rule)), rule);
    if (!chosen) return { concept: left.name, chosen: null, outcome: null };
    const candidate = { window: chosen.window, threshold: chosen.threshold };
    return { concept: left.name, chosen: candidate, outcome: candidateOutcome(candidate, [left], scoreAt, rule).concepts[0]! };
  });
  const made = predictions.filter((p) => p.outcome !== null);
  const steps = made.map((p) => p.outcome!.step);
  const baselines = concepts.filter((k) => made.some((p) => p.concept === k.name)).map((k) => k.baselineScore);
  return {
    predictions,
    medianSteps: quantile(steps, 0.5),
    maxSteps: steps.length > 0 ? Math.max(...steps) : NaN,
    medianRatio: quantile(made.map((p) => p.outcome!.score), 0.5) / quantile(baselines, 0.5),
  };
}
