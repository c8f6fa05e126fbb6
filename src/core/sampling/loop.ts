import { f32 } from "../numeric/float32.js";
import { normalsF32, RngStream } from "../rng/stream.js";
import { SamplerError } from "./errors.js";
import { applyGuidance, needsUnconditional } from "./guidance.js";
import type { NoiseSource, Sampler, SamplerHistory } from "./sampler.js";

/** What the model is asked at one step. */
export interface DenoiseRequest {
  /** sampler.scaleModelInput(latents): the batch [B, ...latentShape] the UNet takes. */
  latentModelInput: Float32Array;
  /** The model timestep (sampler.timesteps[stepIndex]; may be fractional for Euler + linspace). */
  timestep: number;
  stepIndex: number;
  /** Whether an unconditional (negative-prompt) prediction is needed (guidance scale > 1). */
  guided: boolean;
}

/** The model's predictions for the batch; `unconditional` is required when the request was guided. */
export interface DenoisePrediction {
  conditional: Float32Array;
  unconditional?: Float32Array;
}

/** The injected model: the engine runs the UNet (both conditionings batched, if it likes) here. */
export type DenoiseFn = (request: DenoiseRequest) => Promise<DenoisePrediction>;

export interface SampleLoopOptions {
  sampler: Sampler;
  denoise: DenoiseFn;
  /** [B, C, H, W]: B images of C x H x W latents (SD: C = 4, H = W = resolution / 8). */
  latentShape: readonly number[];
  /** Image i of the batch uses seed + i, so it is reproducible alone with that seed. */
  seed: number;
  /** Classifier-free guidance scale, >= 1 (default 7.5); 1 skips the unconditional pass. */
  guidanceScale?: number;
  /** Called after every step with the new latents (progress, previews). */
  onStep?: (progress: { stepIndex: number; timestep: number; latents: Float32Array }) => void;
  /** Replace the seeded draws (tests): the standard normal initial latents and per-step noise. */
  initialNoise?: Float32Array;
  stepNoise?: NoiseSource;
}

export interface SampleResult {
  /**
   * Final latents [B, C, H, W], still in the UNet's latent space: the caller divides by the
   * VAE's scaling_factor (0.18215 for SD 1.x/2.x) before decoding.
   */
  latents: Float32Array;
  shape: number[];
  /** The seed of each image (seed + i). */
  seeds: number[];
}

function checkShape(shape: readonly number[]): { batch: number; perImage: number } {
  if (shape.length < 2 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new SamplerError(`latent shape must be [B, ...] of positive integers, got [${shape.join(", ")}]`);
  }
  const batch = shape[0]!;
  return { batch, perImage: shape.slice(1).reduce((a, b) => a * b, 1) };
}

/**
 * Standard normals for a batch, image by image: image i draws from address
 * {seed + i, RngStream.generation, step}. Step 0 is the initial latents; sampler step k
 * draws its noise at step k + 1.
 */
export function generationNoise(seed: number, step: number, batch: number, perImage: number): Float32Array {
  checkSeed(seed, batch);
  const out = new Float32Array(batch * perImage);
  for (let i = 0; i < batch; i++) out.set(normalsF32({ seed: seed + i, stream: RngStream.generation, step }, perImage), i * perImage);
  return out;
}

function checkSeed(seed: number, batch: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(seed + batch - 1)) {
    throw new SamplerError(`seed must be a non-negative safe integer (seed + batch - 1 too), got ${seed}`);
  }
}

function checkPrediction(name: string, values: Float32Array | undefined, size: number, stepIndex: number): Float32Array {
  if (!(values instanceof Float32Array) || values.length !== size) {
    throw new SamplerError(`denoise gave ${name} output of ${values?.length ?? "no"} values at step ${stepIndex}, expected ${size}`);
  }
  return values;
}

/**
 * Text-to-image sampling (diffusers' StableDiffusionPipeline loop): initial latents =
 * noise * initNoiseSigma; per entry of sampler.timesteps, scale the input, ask the model,
 * combine the predictions with classifier-free guidance, take the sampler's step (with
 * the history a multistep sampler needs).
 */
export async function sampleLoop(options: SampleLoopOptions): Promise<SampleResult> {
  const { sampler, denoise, seed } = options;
  const guidanceScale = options.guidanceScale ?? 7.5;
  const guided = needsUnconditional(guidanceScale);
  const { batch, perImage } = checkShape(options.latentShape);
  checkSeed(seed, batch);
  const size = batch * perImage;
  const initial = options.initialNoise ?? generationNoise(seed, 0, batch, perImage);
  if (initial.length !== size) throw new SamplerError(`initial noise has ${initial.length} values, latent shape needs ${size}`);
  const noise: NoiseSource = options.stepNoise ?? ((stepIndex) => generationNoise(seed, stepIndex + 1, batch, perImage));
  const sigma = f32(sampler.initNoiseSigma);
  let latents: Float32Array = initial.map((z) => z * sigma);
  let history: SamplerHistory = { outputs: [], latents: [] };
  for (let stepIndex = 0; stepIndex < sampler.timesteps.length; stepIndex++) {
    const timestep = sampler.timesteps[stepIndex]!;
    const latentModelInput = sampler.scaleModelInput(latents, stepIndex);
    const prediction = await denoise({ latentModelInput, timestep, stepIndex, guided });
    const conditional = checkPrediction("conditional", prediction.conditional, size, stepIndex);
    const modelOutput = guided
      ? applyGuidance(checkPrediction("unconditional", prediction.unconditional, size, stepIndex), conditional, guidanceScale)
      : conditional;
    const next = sampler.step(modelOutput, stepIndex, latents, noise, history);
    if (sampler.historyDepth > 0) {
      const keep = (list: readonly Float32Array[], item: Float32Array) => [...list, item].slice(-sampler.historyDepth);
      history = { outputs: keep(history.outputs, modelOutput), latents: keep(history.latents, latents) };
    }
    latents = next;
    options.onStep?.({ stepIndex, timestep, latents });
  }
  return { latents, shape: [...options.latentShape], seeds: Array.from({ length: batch }, (_, i) => seed + i) };
}
