import type { PredictionType } from "../schedule/index.js";
import { SamplerError } from "./errors.js";

export const SAMPLER_KINDS = ["ddim", "euler", "euler-ancestral", "pndm"] as const;
export type SamplerKind = (typeof SAMPLER_KINDS)[number];

/**
 * Standard normal noise for stochastic step `stepIndex`: `count` float32 values covering
 * the whole latent batch, image-major. sampleLoop draws it from the seeded generator;
 * tests inject recorded noise.
 */
export type NoiseSource = (stepIndex: number, count: number) => Float32Array;

/**
 * What a multistep sampler (PNDM) remembers, passed in so that step() stays pure: the
 * model outputs and the latents given to step() at the previous min(historyDepth,
 * stepIndex) steps, oldest first. sampleLoop keeps it.
 */
export interface SamplerHistory {
  readonly outputs: readonly Float32Array[];
  readonly latents: readonly Float32Array[];
}

/**
 * One denoising sampler for a fixed number of inference steps, as plain values and pure
 * functions: nothing is mutated, every call returns a new array. Latents are a flat
 * float32 batch of any shape; all images share the step's coefficients.
 *
 * Per step i (diffusers' StableDiffusionPipeline order):
 *   input = scaleModelInput(latents, i); out = model(input, timesteps[i]); latents = step(out, i, latents, noise, history).
 * The first latents are standard normal noise times initNoiseSigma. A sampler may
 * evaluate the model at more than one step per timestep (PNDM: steps + 1 evaluations).
 */
export interface Sampler {
  readonly kind: SamplerKind;
  readonly predictionType: PredictionType;
  /** The model's timestep at each step: integers, except Euler with linspace spacing (float32 fractions). */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial latents. */
  readonly initNoiseSigma: number;
  /** Whether step() draws from its NoiseSource (DDIM with eta > 0, Euler-ancestral). */
  readonly stochastic: boolean;
  /** How many previous steps step() needs in its history (0: none; PNDM: 4). */
  readonly historyDepth: number;
  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array;
  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, noise?: NoiseSource, history?: SamplerHistory): Float32Array;
}

export function checkStepIndex(timesteps: readonly number[], stepIndex: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= timesteps.length) {
    throw new SamplerError(`step index must be an integer in [0, ${timesteps.length - 1}], got ${stepIndex}`);
  }
}

export function checkSameLength(modelOutput: Float32Array, latents: Float32Array): void {
  if (modelOutput.length !== latents.length || latents.length === 0) {
    throw new SamplerError(`model output has ${modelOutput.length} values, latents ${latents.length}: they must match and be non-empty`);
  }
}

/** The step's noise from `noise`, checked for length. */
export function drawStepNoise(noise: NoiseSource | undefined, stepIndex: number, count: number, who: string): Float32Array {
  if (noise === undefined) throw new SamplerError(`${who} is stochastic: step ${stepIndex} needs a noise source`);
  const values = noise(stepIndex, count);
  if (values.length !== count) throw new SamplerError(`noise source gave ${values.length} values for step ${stepIndex}, expected ${count}`);
  return values;
}
