/**
 * The whole state of an inversion between slices: plain data and typed arrays, so the
 * checkpoint codec can store it exactly. Arrays in a state are never modified in place;
 * each slice returns a new state.
 */
import type { OptimizerState } from "../optim/optimizer.js";
import type { CriterionState } from "../stopping/criterion.js";
import { createCriterion } from "../stopping/index.js";
import { InvalidRunError } from "./errors.js";
import { parseInversionConfig, type InversionConfig, type InversionConfigInput } from "./config.js";
import { createOptimizer } from "../optim/index.js";

/** One entry per completed update, index i = update i (0-based). NaN where a value was not computed. */
export interface InversionHistory {
  /** Training loss of the update's batch at the incoming parameters. */
  trainLoss: number[];
  /** L_det of the parameters after the update. */
  ldet: number[];
  /** L2 norm of the training gradient. */
  gradNorm: number[];
  /** The stopping rule's statistic after the update (DVAR ratio, ...). */
  criterion: number[];
  /** External score of the parameters after the update (patience rule only). */
  score: number[];
  /** Wall time of the update, in the injected clock's milliseconds. */
  wallMs: number[];
}

export const HISTORY_KEYS = ["trainLoss", "ldet", "gradNorm", "criterion", "score", "wallMs"] as const satisfies ReadonlyArray<
  keyof InversionHistory
>;

/** The parameters with the lowest L_det so far (the paper's baseline keeps the best checkpoint). */
export interface BestParams {
  /** Completed updates when they were reached (1-based). */
  step: number;
  ldet: number;
  params: Float32Array;
}

/** How a run ended. */
export type FinalOutcome =
  | { kind: "converged"; step: number; criterion: string; value: number | null }
  | { kind: "max_steps"; step: number }
  | { kind: "failed"; step: number; reason: string };

export interface InversionState {
  config: InversionConfig;
  /** Completed updates; the RNG needs nothing else to continue (counter = step). */
  step: number;
  params: Float32Array;
  optimizer: { name: string; state: OptimizerState };
  criterion: CriterionState;
  best: BestParams | null;
  history: InversionHistory;
  /** Set once the run has ended; a finished state runs no more steps. */
  finished: FinalOutcome | null;
}

export function emptyHistory(): InversionHistory {
  return { trainLoss: [], ldet: [], gradNorm: [], criterion: [], score: [], wallMs: [] };
}

/** The state before the first update. `initialParams` (non-empty, finite) is copied. */
export function createInitialState(configInput: InversionConfigInput, initialParams: Float32Array): InversionState {
  const config = parseInversionConfig(configInput);
  if (!(initialParams instanceof Float32Array) || initialParams.length === 0) {
    throw new InvalidRunError("initial parameters must be a non-empty Float32Array");
  }
  const bad = initialParams.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new InvalidRunError(`initial parameter ${bad} is ${initialParams[bad]}`);
  const optimizer = createOptimizer(config.optimizer);
  return {
    config,
    step: 0,
    params: initialParams.slice(),
    optimizer: { name: optimizer.name, state: optimizer.init(initialParams.length) },
    criterion: createCriterion(config.stop).init(),
    best: null,
    history: emptyHistory(),
    finished: null,
  };
}
