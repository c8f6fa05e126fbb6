import { f32 } from "../numeric/float32.js";
import type { NoiseSchedule } from "../schedule/index.js";
import { inferenceTimesteps, interpolateTable, type TimestepSpacing } from "./timesteps.js";

/** The noise levels of the Euler samplers (Karras et al. 2022's sigma = sqrt((1 - acp) / acp)). */
export interface EulerSigmas {
  /** float32 timesteps of each step (fractions with linspace spacing). */
  timesteps: number[];
  /** sigma of each step, then a final 0: steps + 1 float32 values. */
  sigmas: Float32Array;
  initNoiseSigma: number;
}

/**
 * As diffusers' Euler schedulers set_timesteps (interpolation_type "linear", no Karras,
 * exponential or beta sigmas, final_sigmas_type "zero"):
 *   1. table[t] = sqrt((1 - acp[t]) / acp[t]) in float32 (torch);
 *   2. sigma_i = np.interp(timestep_i, 0..N-1, table) in float64, stored as float32;
 *   3. init_noise_sigma = max sigma for linspace and trailing spacing, else
 *      sqrt(max^2 + 1) (the leading schedule starts below the top noise level).
 */
export function eulerSigmas(schedule: NoiseSchedule, steps: number, spacing: TimestepSpacing, stepsOffset: number): EulerSigmas {
  const timesteps = inferenceTimesteps({ numTrainTimesteps: schedule.numTrainTimesteps, steps, spacing, stepsOffset }, true);
  const table = Float32Array.from(schedule.alphasCumprod, (a) => Math.sqrt(f32(f32(1 - a) / a)));
  const sigmas = new Float32Array(steps + 1);
  timesteps.forEach((t, i) => (sigmas[i] = interpolateTable(table, t)));
  const max = sigmas.reduce((a, b) => Math.max(a, b), 0);
  const initNoiseSigma = spacing === "leading" ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  return { timesteps, sigmas, initNoiseSigma };
}

/** x / sqrt(sigma^2 + 1): the model sees unit-variance inputs (Karras et al. 2022, c_in). */
export function scaleBySigma(latents: Float32Array, sigma: number): Float32Array {
  const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  return latents.map((x) => x / scale);
}

/** The denoised estimate x0 for epsilon or v prediction at noise level sigma, float32 as diffusers. */
export function predictOriginal(epsilon: boolean, sigma: number): (x: number, m: number) => number {
  if (epsilon) return (x, m) => f32(x - f32(sigma * m));
  const s2p1 = f32(f32(sigma * sigma) + 1);
  const c = f32(-sigma / f32(Math.sqrt(s2p1)));
  return (x, m) => f32(f32(m * c) + f32(x / s2p1));
}
