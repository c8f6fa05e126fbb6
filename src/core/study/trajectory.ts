/**
 * One deterministic training run, recorded whole: a stopping rule reads nothing but the
 * run's history, so where any rule would have stopped, and with which parameters, is a
 * prefix of this one trajectory (same seed, batches and initialisation as a run with that
 * rule). The run goes through the slice runner exactly as `dvar invert` does, with the
 * fixed-steps rule and L_det after every update; the parameters after every update are
 * kept (k x H floats a step), and the wall time of each update is split into the training
 * step (forward, backward, optimizer) and the L_det evaluation.
 */
import { createInitialState, type FinalOutcome, type InversionConfigInput, type Objective, runSlice } from "../inversion/index.js";

export interface Trajectory {
  /** Completed updates. */
  steps: number;
  /** Parameters per step. */
  size: number;
  /** Row s (s = 0..steps) holds the parameters after s updates; row 0 the initial ones. */
  params: Float32Array;
  /** Entry s - 1 belongs to update s, as in the runner's history. */
  trainLoss: number[];
  ldet: number[];
  gradNorm: number[];
  trainMs: number[];
  ldetMs: number[];
  outcome: FinalOutcome;
}

export interface TrajectoryOptions {
  /** Milliseconds, monotonic (e.g. performance.now). */
  clock: () => number;
  /** Steps per slice between progress calls (default 100). */
  sliceSteps?: number;
  onProgress?: (step: number) => void;
}

/** The parameters after `step` updates (a view into the trajectory: copy before changing it). */
export function paramsAt(t: Trajectory, step: number): Float32Array {
  if (!Number.isInteger(step) || step < 0 || step > t.steps) throw new RangeError(`step ${step} is outside the trajectory's 0..${t.steps}`);
  return t.params.subarray(step * t.size, (step + 1) * t.size);
}

/** Runs `config` to its maxSteps with the fixed-steps rule (its own `stop` is replaced). */
export async function recordTrajectory(objective: Objective, config: InversionConfigInput, initialParams: Float32Array, options: TrajectoryOptions): Promise<Trajectory> {
  const maxSteps = config.maxSteps ?? 6100;
  const { clock } = options;
  let lastLdetMs = 0;
  const timed: Objective = {
    size: objective.size,
    trainLossAndGradient: (step, p) => objective.trainLossAndGradient(step, p),
    evalLoss: async (p) => {
      const t0 = clock();
      const value = await objective.evalLoss(p);
      lastLdetMs = clock() - t0;
      return value;
    },
  };
  let state = createInitialState({ ...config, maxSteps, stop: { name: "fixed", steps: maxSteps }, ldetEvery: 1 }, initialParams);
  const size = initialParams.length;
  const params = new Float32Array((maxSteps + 1) * size);
  params.set(state.params, 0);
  const ldetMs: number[] = [];
  const onUpdate = (step: number, p: Float32Array) => {
    params.set(p, step * size);
    ldetMs.push(lastLdetMs);
  };
  while (!state.finished) {
    state = (await runSlice(state, { objective: timed, budget: { maxSteps: options.sliceSteps ?? 100 }, clock, onUpdate })).state;
    options.onProgress?.(state.step);
  }
  const h = state.history;
  return {
    steps: state.step,
    size,
    params: params.subarray(0, (state.step + 1) * size),
    trainLoss: h.trainLoss.slice(),
    ldet: h.ldet.slice(),
    gradNorm: h.gradNorm.slice(),
    trainMs: h.wallMs.map((ms, i) => ms - ldetMs[i]!),
    ldetMs,
    outcome: state.finished!,
  };
}
