import { f32 } from "../numeric/float32.js";
import { type EulerSettings } from "./euler-ancestral.js";
import { checkSameLength, checkStepIndex, type Sampler } from "./sampler.js";
import { eulerSigmas, predictOriginal, scaleBySigma } from "./sigmas.js";

/**
 * Euler (Karras et al. 2022, Algorithm 2 with S_churn = 0), as diffusers'
 * EulerDiscreteScheduler.step with its pipeline defaults, in float32:
 *   x_next = x + (x - x0) / sigma_i * (sigma_{i+1} - sigma_i). Deterministic.
 * s_churn > 0 (the stochastic variant) is not offered.
 */
export function createEulerSampler(settings: EulerSettings): Sampler & { sigmas: Float32Array } {
  const { timesteps, sigmas, initNoiseSigma } = eulerSigmas(settings.schedule, settings.steps, settings.spacing, settings.stepsOffset);
  const epsilon = settings.schedule.predictionType === "epsilon";
  return {
    kind: "euler",
    predictionType: settings.schedule.predictionType,
    timesteps,
    sigmas,
    initNoiseSigma,
    stochastic: false,
    historyDepth: 0,
    scaleModelInput(latents, stepIndex) {
      checkStepIndex(timesteps, stepIndex);
      return scaleBySigma(latents, sigmas[stepIndex]!);
    },
    step(modelOutput, stepIndex, latents) {
      checkStepIndex(timesteps, stepIndex);
      checkSameLength(modelOutput, latents);
      const sigma = sigmas[stepIndex]!;
      const dt = f32(sigmas[stepIndex + 1]! - sigma);
      const x0Of = predictOriginal(epsilon, sigma);
      const out = new Float32Array(latents.length);
      for (let i = 0; i < out.length; i++) {
        const x = latents[i]!;
        const derivative = f32(f32(x - x0Of(x, modelOutput[i]!)) / sigma);
        out[i] = f32(x + f32(derivative * dt));
      }
      return out;
    },
  };
}
