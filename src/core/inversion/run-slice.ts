/**
 * Runs one bounded slice of an inversion. Each update, in the order of the paper's
 * Appendix D training loop:
 *
 *   1. training loss and gradient of update s at the current parameters (batch drawn at step s),
 *   2. the optimizer update (parameters, moments, step counter),
 *   3. L_det of the UPDATED parameters on the fixed evaluation batch,
 *   4. the stopping rule sees that value (history entry s = L_det after s + 1 updates).
 *
 * (The authors' textual_inversion.py computes L_det after the backward pass but before
 * optimizer.step(), i.e. of the incoming parameters: its history is this one shifted
 * by one update. Appendix D's loop, followed here, evaluates after the update.)
 *
 * The slice ends when the rule fires (converged), max_steps is reached, a value is not
 * finite (failed; the bad update is not applied), or the slice budget (steps, wall
 * time by the injected clock, or an interrupt) runs out (continue). Given the same
 * state, the result depends only on the objective: never on how the run was sliced.
 * The input state is never modified, so if the objective throws (a lost GPU, say), the
 * error propagates and the slice can be retried from the same state.
 */
import type { StoppingCriterion } from "../stopping/criterion.js";
import { InvalidRunError } from "./errors.js";
import { createCriterion } from "../stopping/index.js";
import type { Objective } from "./objective.js";
import { createOptimizer } from "../optim/index.js";
import type { BestParams, FinalOutcome, InversionHistory, InversionState } from "./state.js";

export interface SliceBudget {
  /** Updates this slice may run. */
  maxSteps?: number;
  /** Milliseconds (by `clock`) after which no new update starts. At least one update always runs. */
  maxWallMs?: number;
}

export interface RunSliceOptions {
  objective: Objective;
  budget: SliceBudget;
  /** Milliseconds, monotonic; injected so the core stays pure (e.g. `performance.now`). */
  clock: () => number;
  /** Checked after every update; true ends the slice cleanly (e.g. on SIGINT). */
  interrupted?: () => boolean;
  /**
   * Called after every committed update with the completed steps, the new parameters and the
   * history so far (the slice's working copies: read them during the call, never modify or keep
   * them). For observers only: progress reports, trajectory studies.
   */
  onUpdate?: (step: number, params: Float32Array, history: Readonly<InversionHistory>) => void;
}

export type SliceOutcome = { kind: "continue"; reason: "slice_steps" | "slice_time" | "interrupted" } | FinalOutcome;

export interface SliceResult {
  state: InversionState;
  outcome: SliceOutcome;
  /** Updates run in this slice. */
  stepsRun: number;
}

function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return Math.sqrt(sum);
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return false;
  return true;
}

function checkCompatible(state: InversionState, objective: Objective, criterion: StoppingCriterion, optimizerName: string): void {
  if (objective.size !== state.params.length) {
    throw new InvalidRunError(`objective has ${objective.size} parameters, the state ${state.params.length}`);
  }
  if (state.optimizer.name !== optimizerName) {
    throw new InvalidRunError(`state holds '${state.optimizer.name}' optimizer state, the config asks for '${optimizerName}'`);
  }
  if (criterion.signal === "score" && !objective.evalScore) {
    throw new InvalidRunError(`stopping rule '${criterion.spec.name}' needs a score, and the objective has no evalScore`);
  }
}

function copyHistory(h: InversionHistory): InversionHistory {
  return {
    trainLoss: h.trainLoss.slice(),
    ldet: h.ldet.slice(),
    gradNorm: h.gradNorm.slice(),
    criterion: h.criterion.slice(),
    score: h.score.slice(),
    wallMs: h.wallMs.slice(),
  };
}

export async function runSlice(initial: InversionState, options: RunSliceOptions): Promise<SliceResult> {
  if (initial.finished) return { state: initial, outcome: initial.finished, stepsRun: 0 };
  const { objective, budget, clock, interrupted, onUpdate } = options;
  const { config } = initial;
  const criterion = createCriterion(config.stop);
  const optimizer = createOptimizer(config.optimizer);
  checkCompatible(initial, objective, criterion, optimizer.name);

  let params = initial.params;
  let optState = initial.optimizer.state;
  let criterionState = initial.criterion;
  let best: BestParams | null = initial.best;
  let step = initial.step;
  const history = copyHistory(initial.history);
  const started = clock();
  let stepsRun = 0;

  const snapshot = (finished: FinalOutcome | null): InversionState => ({
    config,
    step,
    params,
    optimizer: { name: optimizer.name, state: optState },
    criterion: criterionState,
    best,
    history,
    finished,
  });
  const finish = (outcome: FinalOutcome): SliceResult => ({ state: snapshot(outcome), outcome, stepsRun });
  const pause = (reason: "slice_steps" | "slice_time" | "interrupted"): SliceResult => ({
    state: snapshot(null),
    outcome: { kind: "continue", reason },
    stepsRun,
  });

  for (;;) {
    if (step >= config.maxSteps) return finish({ kind: "max_steps", step });
    if (budget.maxSteps !== undefined && stepsRun >= budget.maxSteps) return pause("slice_steps");
    if (stepsRun > 0 && interrupted?.()) return pause("interrupted");
    if (stepsRun > 0 && budget.maxWallMs !== undefined && clock() - started >= budget.maxWallMs) return pause("slice_time");

    const t0 = clock();
    const s = step;
    const failed = (reason: string) => finish({ kind: "failed", step: s + 1, reason: `update ${s + 1}: ${reason}` });

    // 1-2. Training loss and gradient of update s, then the update.
    const result = await optimizer.step(params, optState, (p) => objective.trainLossAndGradient(s, p), config.learningRate);
    const gradNorm = l2Norm(result.grad);
    if (!Number.isFinite(result.loss)) return failed(`training loss is ${result.loss}`);
    if (!Number.isFinite(gradNorm)) return failed(`gradient norm is ${gradNorm}`);
    if (!allFinite(result.params)) return failed("parameters are not finite after the update");
    const done = s + 1;

    // 3. L_det of the updated parameters, when logged or needed by the rule.
    const ruleDue = done % criterion.every === 0;
    let ldet = NaN;
    if (done % config.ldetEvery === 0 || (ruleDue && criterion.signal === "ldet")) {
      ldet = await objective.evalLoss(result.params);
      if (!Number.isFinite(ldet)) return failed(`L_det is ${ldet}`);
    }
    let score = NaN;
    if (ruleDue && criterion.signal === "score") {
      score = await objective.evalScore!(result.params);
      if (!Number.isFinite(score)) return failed(`score is ${score}`);
    }

    // 4. The stopping rule.
    let decision = null;
    if (ruleDue) decision = criterion.observe(criterionState, done, criterion.signal === "ldet" ? ldet : score);

    // Commit the update.
    params = result.params;
    optState = result.state;
    step = done;
    stepsRun++;
    if (decision) criterionState = decision.state;
    if (!Number.isNaN(ldet) && (best === null || ldet < best.ldet)) best = { step, ldet, params };
    history.trainLoss.push(result.loss);
    history.ldet.push(ldet);
    history.gradNorm.push(gradNorm);
    history.criterion.push(decision?.value ?? NaN);
    history.score.push(score);
    history.wallMs.push(clock() - t0);
    onUpdate?.(step, params, history);

    if (decision?.stop) return finish({ kind: "converged", step, criterion: criterion.spec.name, value: decision.value });
  }
}
