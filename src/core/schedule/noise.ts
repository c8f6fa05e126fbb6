import { f32 } from "../numeric/float32.js";
import { alphasCumprod, betasFor } from "./betas.js";
import { parseSchedulerConfig, type PredictionType, type SchedulerConfig } from "./config.js";

/** Inputs to addNoise / trainingTarget that do not fit the schedule or each other. */
export class NoiseInputError extends Error {
  override name = "NoiseInputError";
}

/** The training-time view of a diffusion schedule: plain data, float32 like diffusers. */
export interface NoiseSchedule {
  readonly config: SchedulerConfig;
  readonly numTrainTimesteps: number;
  readonly predictionType: PredictionType;
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
  /** alphas_cumprod "before" t = 0, used by DDIM-style samplers (set_alpha_to_one). */
  readonly finalAlphaCumprod: number;
}

/** Builds the schedule of a scheduler_config.json object (validated, defaults filled). */
export function createNoiseSchedule(rawConfig: unknown): NoiseSchedule {
  const config = parseSchedulerConfig(rawConfig);
  const betas = betasFor(config);
  const cumprod = alphasCumprod(betas);
  return {
    config,
    numTrainTimesteps: config.num_train_timesteps,
    predictionType: config.prediction_type,
    betas,
    alphasCumprod: cumprod,
    finalAlphaCumprod: config.set_alpha_to_one ? 1 : cumprod[0]!,
  };
}

/** Per-sample sqrt(acp[t]) and sqrt(1 - acp[t]) in float32, as diffusers' add_noise. */
function noiseLevels(schedule: NoiseSchedule, timesteps: ArrayLike<number>): { signal: Float32Array; noise: Float32Array } {
  const signal = new Float32Array(timesteps.length);
  const noise = new Float32Array(timesteps.length);
  for (let b = 0; b < timesteps.length; b++) {
    const acp = schedule.alphasCumprod[timesteps[b]!]!;
    signal[b] = Math.sqrt(acp);
    noise[b] = Math.sqrt(f32(1 - acp));
  }
  return { signal, noise };
}

function checkInputs(schedule: NoiseSchedule, latents: Float32Array, noise: Float32Array, timesteps: ArrayLike<number>, shape: readonly number[]): number {
  if (shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new NoiseInputError(`shape must be a non-empty list of positive integers, got [${shape.join(", ")}]`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (latents.length !== size || noise.length !== size) {
    throw new NoiseInputError(`shape [${shape.join(", ")}] holds ${size} values; latents have ${latents.length}, noise ${noise.length}`);
  }
  if (timesteps.length !== shape[0]) {
    throw new NoiseInputError(`need one timestep per sample (${shape[0]}), got ${timesteps.length}`);
  }
  for (let b = 0; b < timesteps.length; b++) {
    const t = timesteps[b]!;
    if (!Number.isInteger(t) || t < 0 || t >= schedule.numTrainTimesteps) {
      throw new NoiseInputError(`timestep ${t} of sample ${b} is not an integer in [0, ${schedule.numTrainTimesteps})`);
    }
  }
  return size / shape[0]!;
}

/**
 * Forward diffusion q(x_t | x_0) (Ho et al. 2020, eq. 4), per sample b of a batch of
 * shape [B, ...]: x_t = sqrt(acp[t_b]) * x_0 + sqrt(1 - acp[t_b]) * eps, in float32.
 */
export function addNoise(
  schedule: NoiseSchedule,
  latents: Float32Array,
  noise: Float32Array,
  timesteps: ArrayLike<number>,
  shape: readonly number[],
): Float32Array {
  const perSample = checkInputs(schedule, latents, noise, timesteps, shape);
  const levels = noiseLevels(schedule, timesteps);
  const out = new Float32Array(latents.length);
  for (let i = 0; i < out.length; i++) {
    const b = Math.floor(i / perSample);
    out[i] = f32(levels.signal[b]! * latents[i]!) + f32(levels.noise[b]! * noise[i]!);
  }
  return out;
}

/** v = sqrt(acp[t]) * eps - sqrt(1 - acp[t]) * x_0 (Salimans & Ho 2022), diffusers' get_velocity. */
export function velocity(
  schedule: NoiseSchedule,
  latents: Float32Array,
  noise: Float32Array,
  timesteps: ArrayLike<number>,
  shape: readonly number[],
): Float32Array {
  const perSample = checkInputs(schedule, latents, noise, timesteps, shape);
  const levels = noiseLevels(schedule, timesteps);
  const out = new Float32Array(latents.length);
  for (let i = 0; i < out.length; i++) {
    const b = Math.floor(i / perSample);
    out[i] = f32(levels.signal[b]! * noise[i]!) - f32(levels.noise[b]! * latents[i]!);
  }
  return out;
}

/** What the UNet learns to predict: eps for "epsilon", v for "v_prediction". A new array. */
export function trainingTarget(
  schedule: NoiseSchedule,
  latents: Float32Array,
  noise: Float32Array,
  timesteps: ArrayLike<number>,
  shape: readonly number[],
): Float32Array {
  if (schedule.predictionType === "v_prediction") return velocity(schedule, latents, noise, timesteps, shape);
  checkInputs(schedule, latents, noise, timesteps, shape);
  return Float32Array.from(noise);
}
