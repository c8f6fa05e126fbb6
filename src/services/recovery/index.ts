export {
  assertRecoveryPolicy,
  decideRecovery,
  DEFAULT_RECOVERY_POLICY,
  InvalidRecoveryPolicyError,
  redispatchesOf,
  SLICE_RETRIES_EXHAUSTED,
  type RecoveryDecision,
  type RecoveryPolicy,
} from "./recovery-policy.js";
export { JobSweeper, type JobSweeperDeps, type SweepResult } from "./job-sweeper.js";
export { DEFAULT_UPLOAD_SWEEP_INTERVAL_MS, startSweepLoop, type SweepLoop, type SweepLoopOptions } from "./sweep-loop.js";
