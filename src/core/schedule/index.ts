export {
  BETA_SCHEDULES,
  type BetaSchedule,
  parseSchedulerConfig,
  PREDICTION_TYPES,
  type PredictionType,
  type SchedulerConfig,
  SchedulerConfigError,
} from "./config.js";
export { alphasCumprod, betasFor, cosineBetas, linspaceF32 } from "./betas.js";
export { addNoise, createNoiseSchedule, NoiseInputError, type NoiseSchedule, trainingTarget, velocity } from "./noise.js";
