/** Resumable inversion: config, state, the slice runner and the objective it drives. */
export { configHash, InvalidConfigError, inversionConfigSchema, parseInversionConfig } from "./config.js";
export type { InversionConfig, InversionConfigInput } from "./config.js";
export { EVAL_RANDOMNESS, type EvalRandomness, type Objective } from "./objective.js";
export { InvalidRunError } from "./errors.js";
export { runSlice, type RunSliceOptions, type SliceBudget, type SliceOutcome, type SliceResult } from "./run-slice.js";
export {
  createInitialState,
  emptyHistory,
  HISTORY_KEYS,
  type BestParams,
  type FinalOutcome,
  type InversionHistory,
  type InversionState,
} from "./state.js";
