/** The trajectory study: one recorded run, rules replayed on it, statistics, the semi-deterministic ablation. */
export { type AblationSeries, type AblationVariant, semiDeterministicAblation, type TrendStatistics, trendStatistics } from "./ablation.js";
export { perStep, replayRule, type ReplayedRule } from "./replay.js";
export { earlyLateWelchT, lateVarianceRatio, type MedianIqr, medianIqr, quantile } from "./statistics.js";
export { paramsAt, recordTrajectory, type Trajectory, type TrajectoryOptions } from "./trajectory.js";
export {
  baselineCheckpoints,
  baselineOutcome,
  clipSOutcome,
  dvarOutcome,
  fewItersOutcome,
  fewItersSteps,
  type MethodOutcome,
  type RunCosts,
  secondsUpTo,
} from "./methods.js";
export {
  type CalibrationConcept,
  type CalibrationRule,
  type CandidateOutcome,
  type ConceptOutcome,
  candidateOutcome,
  candidateStop,
  chooseCandidate,
  DEFAULT_CALIBRATION_GRID,
  DEFAULT_CALIBRATION_RULE,
  type DvarCandidate,
  dvarSpecOf,
  type LeaveOneOut,
  leaveOneOut,
  type LeaveOneOutPrediction,
  stepsToScore,
} from "./calibration.js";
