import { f32 } from "../numeric/float32.js";
import type { NoiseSchedule } from "../schedule/index.js";
import { checkSameLength, checkStepIndex, drawStepNoise, type Sampler } from "./sampler.js";
import { eulerSigmas, predictOriginal, scaleBySigma } from "./sigmas.js";
import type { TimestepSpacing } from "./timesteps.js";

export interface EulerSettings {
  schedule: NoiseSchedule;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
}

/**
 * Euler-ancestral (k-diffusion's sample_euler_ancestral, Karras et al. 2022 with
 * eta = 1), as diffusers' EulerAncestralDiscreteScheduler.step in float32:
 *   1. x0 from the model output at sigma = sigma_i (see predictOriginal);
 *   2. sigma_up = sqrt(sigma_next^2 (sigma_i^2 - sigma_next^2) / sigma_i^2),
 *      sigma_down = sqrt(sigma_next^2 - sigma_up^2);
 *   3. x' = x + (x - x0) / sigma_i * (sigma_down - sigma_i)   (an Euler step to sigma_down);
 *   4. x_next = x' + sigma_up z: fresh noise every step (drawn on the last step too, where
 *      sigma_up = 0, as diffusers does).
 */
export function createEulerAncestralSampler(settings: EulerSettings): Sampler & { sigmas: Float32Array } {
  const { timesteps, sigmas, initNoiseSigma } = eulerSigmas(settings.schedule, settings.steps, settings.spacing, settings.stepsOffset);
  const epsilon = settings.schedule.predictionType === "epsilon";
  return {
    kind: "euler-ancestral",
    predictionType: settings.schedule.predictionType,
    timesteps,
    sigmas,
    initNoiseSigma,
    stochastic: true,
    historyDepth: 0,
    scaleModelInput(latents, stepIndex) {
      checkStepIndex(timesteps, stepIndex);
      return scaleBySigma(latents, sigmas[stepIndex]!);
    },
    step(modelOutput, stepIndex, latents, noise) {
      checkStepIndex(timesteps, stepIndex);
      checkSameLength(modelOutput, latents);
      const sigma = sigmas[stepIndex]!;
      const next = sigmas[stepIndex + 1]!;
      const from2 = f32(sigma * sigma);
      const to2 = f32(next * next);
      const up = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
      const down = f32(Math.sqrt(f32(to2 - f32(up * up))));
      const dt = f32(down - sigma);
      const x0Of = predictOriginal(epsilon, sigma);
      const z = drawStepNoise(noise, stepIndex, latents.length, "Euler-ancestral");
      const out = new Float32Array(latents.length);
      for (let i = 0; i < out.length; i++) {
        const x = latents[i]!;
        const derivative = f32(f32(x - x0Of(x, modelOutput[i]!)) / sigma);
        out[i] = f32(f32(x + f32(derivative * dt)) + f32(z[i]! * up));
      }
      return out;
    },
  };
}
