import { f32 } from "../numeric/float32.js";
import type { NoiseSchedule } from "../schedule/index.js";
import { SamplerError } from "./errors.js";
import { checkSameLength, checkStepIndex, drawStepNoise, type Sampler } from "./sampler.js";
import { inferenceTimesteps, type TimestepSpacing } from "./timesteps.js";

export interface DdimSettings {
  schedule: NoiseSchedule;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
  /** 0: deterministic DDIM; 1: DDPM-like ancestral noise. Must lie in [0, 1]. */
  eta: number;
  clipSample: boolean;
  clipSampleRange: number;
}

/**
 * DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12), as diffusers'
 * DDIMScheduler.step computes it in float32, each operation rounded as torch does:
 *   1. prev = t - N // n (diffusers uses this stride for every spacing);
 *      a_t = acp[t], a_prev = acp[prev] or final_alpha_cumprod when prev < 0.
 *   2. x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t)             (epsilon), or
 *      x0 = sqrt(a_t) x - sqrt(1 - a_t) v, eps = sqrt(a_t) v + sqrt(1 - a_t) x   (v_prediction).
 *   3. clip x0 to [-range, range] when clip_sample.
 *   4. sigma_t = eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))   (eq. 16).
 *   5. x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t z.
 * use_clipped_model_output is not offered (diffusers' pipelines leave it off).
 */
export function createDdimSampler(settings: DdimSettings): Sampler {
  const { schedule, steps, eta, clipSample } = settings;
  if (!(Number.isFinite(eta) && eta >= 0 && eta <= 1)) throw new SamplerError(`DDIM eta must be in [0, 1], got ${eta}`);
  if (!(settings.clipSampleRange > 0)) throw new SamplerError(`clip_sample_range must be positive, got ${settings.clipSampleRange}`);
  const N = schedule.numTrainTimesteps;
  const timesteps = inferenceTimesteps({ numTrainTimesteps: N, steps, spacing: settings.spacing, stepsOffset: settings.stepsOffset });
  const stride = Math.floor(N / steps);
  const etaF = f32(eta);
  const range = f32(settings.clipSampleRange);
  const epsilon = schedule.predictionType === "epsilon";

  /** The scalar coefficients of step i, each a float32 as torch's 0-d tensors hold them. */
  const coefficients = (stepIndex: number) => {
    const t = timesteps[stepIndex]!;
    const prev = t - stride;
    const aT = schedule.alphasCumprod[t]!;
    const aPrev = prev >= 0 ? schedule.alphasCumprod[prev]! : schedule.finalAlphaCumprod;
    const betaT = f32(1 - aT);
    const betaPrev = f32(1 - aPrev);
    const variance = f32(f32(betaPrev / betaT) * f32(1 - f32(aT / aPrev)));
    const sigma = f32(f32(Math.sqrt(variance)) * etaF);
    return {
      sqrtA: f32(Math.sqrt(aT)),
      sqrtB: f32(Math.sqrt(betaT)),
      sqrtAPrev: f32(Math.sqrt(aPrev)),
      direction: f32(Math.sqrt(f32(betaPrev - f32(sigma * sigma)))),
      sigma,
    };
  };

  return {
    kind: "ddim",
    predictionType: schedule.predictionType,
    timesteps,
    initNoiseSigma: 1,
    stochastic: eta > 0,
    historyDepth: 0,
    scaleModelInput(latents, stepIndex) {
      checkStepIndex(timesteps, stepIndex);
      return Float32Array.from(latents);
    },
    step(modelOutput, stepIndex, latents, noise) {
      checkStepIndex(timesteps, stepIndex);
      checkSameLength(modelOutput, latents);
      const c = coefficients(stepIndex);
      const z = eta > 0 ? drawStepNoise(noise, stepIndex, latents.length, "DDIM with eta > 0") : null;
      const out = new Float32Array(latents.length);
      for (let i = 0; i < out.length; i++) {
        const x = latents[i]!;
        const m = modelOutput[i]!;
        let x0: number;
        let eps: number;
        if (epsilon) {
          x0 = f32(f32(x - f32(c.sqrtB * m)) / c.sqrtA);
          eps = m;
        } else {
          x0 = f32(f32(c.sqrtA * x) - f32(c.sqrtB * m));
          eps = f32(f32(c.sqrtA * m) + f32(c.sqrtB * x));
        }
        if (clipSample) x0 = Math.min(Math.max(x0, -range), range);
        let prev = f32(f32(c.sqrtAPrev * x0) + f32(c.direction * eps));
        if (z !== null) prev = f32(prev + f32(c.sigma * z[i]!));
        out[i] = prev;
      }
      return out;
    },
  };
}
