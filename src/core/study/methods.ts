/**
 * The paper's methods (Table 1) derived from one recorded trajectory. Iterations, score
 * and time, where time = training time up to the method's last step + its evaluation
 * overhead, as the paper counts it:
 *   Baseline   all steps; the best-scoring of the checkpoints every `baselineEvery` steps
 *              and the last one; overhead: one score per checkpoint.
 *   CLIP-s     the patience rule on the score every 50 steps; the embedding at its stop;
 *              overhead: one score per evaluation.
 *   Few iters  a fixed step count (max or mean of the CLIP-s stops over the concepts);
 *              no overhead.
 *   DVAR       the first step where the rule fires (the cap if it never does); overhead:
 *              L_det after every step.
 * Training time excludes L_det (only DVAR computes it); `scoreMs` is the cost of one score
 * as the method would compute it.
 */

export interface MethodOutcome {
  /** The last training step the method runs. */
  step: number;
  /** False when an adaptive rule never fired and the run hit the step cap. */
  stopped: boolean;
  /** The score of the embedding the method returns. */
  score: number;
  seconds: number;
  /** The step whose embedding is returned, when it is not `step` (Baseline). */
  bestStep?: number;
  /** Score evaluations the method pays for. */
  evaluations: number;
}

export interface RunCosts {
  /** Per update (entry s - 1 = update s), milliseconds: the training step without L_det. */
  trainMs: readonly number[];
  /** Per update: the L_det evaluation. */
  ldetMs: readonly number[];
  /** One score as the methods compute it (the paper: 8 samples, 50 steps). */
  scoreMs: number;
}

/** Seconds of the first `step` entries. */
export function secondsUpTo(ms: readonly number[], step: number): number {
  if (step > ms.length) throw new RangeError(`step ${step} is past the ${ms.length} recorded updates`);
  let sum = 0;
  for (let i = 0; i < step; i++) sum += ms[i]!;
  return sum / 1000;
}

/** Candidate checkpoints of the baseline: every `every` steps and the last step. */
export function baselineCheckpoints(steps: number, every: number): number[] {
  const out: number[] = [];
  for (let s = every; s <= steps; s += every) out.push(s);
  if (out[out.length - 1] !== steps) out.push(steps);
  return out;
}

export function baselineOutcome(scoreAt: (step: number) => number, steps: number, every: number, costs: RunCosts): MethodOutcome {
  const checkpoints = baselineCheckpoints(steps, every);
  let best = checkpoints[0]!;
  for (const s of checkpoints) if (scoreAt(s) > scoreAt(best)) best = s; // ties keep the earlier checkpoint
  return {
    step: steps,
    stopped: true,
    score: scoreAt(best),
    seconds: secondsUpTo(costs.trainMs, steps) + (checkpoints.length * costs.scoreMs) / 1000,
    bestStep: best,
    evaluations: checkpoints.length,
  };
}

export function clipSOutcome(scoreAt: (step: number) => number, stopStep: number | null, steps: number, every: number, costs: RunCosts): MethodOutcome {
  const step = stopStep ?? steps;
  const evaluations = Math.floor(step / every);
  return { step, stopped: stopStep !== null, score: scoreAt(step), seconds: secondsUpTo(costs.trainMs, step) + (evaluations * costs.scoreMs) / 1000, evaluations };
}

export function dvarOutcome(scoreAt: (step: number) => number, stopStep: number | null, steps: number, costs: RunCosts): MethodOutcome {
  const step = stopStep ?? steps;
  return { step, stopped: stopStep !== null, score: scoreAt(step), seconds: secondsUpTo(costs.trainMs, step) + secondsUpTo(costs.ldetMs, step), evaluations: 0 };
}

export function fewItersOutcome(scoreAt: (step: number) => number, step: number, costs: RunCosts): MethodOutcome {
  return { step, stopped: true, score: scoreAt(step), seconds: secondsUpTo(costs.trainMs, step), evaluations: 0 };
}

/** The paper's Few iters step counts: the max and the (rounded) mean of the CLIP-s stops. */
export function fewItersSteps(clipSSteps: readonly number[]): { max: number; mean: number } {
  if (clipSSteps.length === 0) throw new RangeError("Few iters needs at least one CLIP-s stop");
  return { max: Math.max(...clipSSteps), mean: Math.round(clipSSteps.reduce((a, b) => a + b, 0) / clipSSteps.length) };
}
