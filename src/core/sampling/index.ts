export { SamplerError } from "./errors.js";
export { type NoiseSource, SAMPLER_KINDS, type Sampler, type SamplerHistory, type SamplerKind } from "./sampler.js";
export { inferenceTimesteps, interpolateTable, roundHalfEven, TIMESTEP_SPACINGS, type TimestepRequest, type TimestepSpacing } from "./timesteps.js";
export { createDdimSampler, type DdimSettings } from "./ddim.js";
export { createEulerAncestralSampler, type EulerSettings } from "./euler-ancestral.js";
export { createEulerSampler } from "./euler.js";
export { createPndmSampler, type PndmSettings } from "./pndm.js";
export { eulerSigmas, type EulerSigmas } from "./sigmas.js";
export { createSampler, DDIM_FALLBACK_CLASSES, type SamplerChoice, samplerKindForConfig, type SamplerOptions } from "./from-config.js";
export { applyGuidance, checkGuidanceScale, needsUnconditional } from "./guidance.js";
export {
  type DenoiseFn,
  type DenoisePrediction,
  type DenoiseRequest,
  generationNoise,
  sampleLoop,
  type SampleLoopOptions,
  type SampleResult,
} from "./loop.js";
