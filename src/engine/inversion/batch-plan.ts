/**
 * What each batch of a textual inversion holds, as pure functions of (seed, step): every
 * draw is addressed by (seed, stream, step), so a step's batch never depends on how the
 * run was sliced.
 *
 * Training batch of update s (diffusers' textual_inversion.py): per sample a random
 * image (stream image), a random template (caption), a horizontal flip with probability
 * p (flip), a latent sample eps (latentSample), a timestep uniform over the training
 * timesteps (timestep) and the noise (noise).
 *
 * DVAR evaluation batch (the authors' reference implementation, FACTS section 1), drawn
 * once: sample i takes image i mod n (files sorted by name) and template i mod len,
 * unflipped; one latent sample and one noise tensor; timesteps the first B entries of a
 * random permutation of the training timesteps (all different).
 */
import type { EvalRandomness } from "../../core/inversion/index.js";
import { integers, normalsF32, permutation, RngStream, uniforms } from "../../core/rng/stream.js";

export interface BatchPlan {
  images: number[];
  templates: number[];
  flips: boolean[];
  timesteps: number[];
  /** Standard normals for the latent samples, batch x latentSize. */
  latentEps: Float32Array;
  /** The diffusion noise, batch x latentSize. */
  noise: Float32Array;
}

export interface BatchDims {
  batch: number;
  images: number;
  templates: number;
  /** num_train_timesteps of the scheduler. */
  timesteps: number;
  /** Values in one latent sample (C * h * w). */
  latentSize: number;
}

function check(d: BatchDims): void {
  for (const [k, v] of Object.entries(d)) if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`batch ${k} must be a positive integer, got ${v}`);
}

export function trainBatchPlan(seed: number, step: number, d: BatchDims, flipProbability: number): BatchPlan {
  check(d);
  const at = (stream: number) => ({ seed, stream, step });
  const flipDraws = uniforms(at(RngStream.flip), d.batch);
  return {
    images: Array.from(integers(at(RngStream.image), d.batch, d.images)),
    templates: Array.from(integers(at(RngStream.caption), d.batch, d.templates)),
    flips: Array.from(flipDraws, (u) => u < flipProbability),
    timesteps: Array.from(integers(at(RngStream.timestep), d.batch, d.timesteps)),
    latentEps: normalsF32(at(RngStream.latentSample), d.batch * d.latentSize),
    noise: normalsF32(at(RngStream.noise), d.batch * d.latentSize),
  };
}

/** Stream evalBatch: step 0 the timestep permutation, step 1 the latent sample, step 2 the noise. */
export function evalBatchPlan(seed: number, d: BatchDims): BatchPlan {
  check(d);
  if (d.batch > d.timesteps) throw new RangeError(`eval batch ${d.batch} exceeds the ${d.timesteps} training timesteps (they must all differ)`);
  const at = (step: number) => ({ seed, stream: RngStream.evalBatch, step });
  return {
    images: Array.from({ length: d.batch }, (_, i) => i % d.images),
    templates: Array.from({ length: d.batch }, (_, i) => i % d.templates),
    flips: new Array<boolean>(d.batch).fill(false),
    timesteps: Array.from(permutation(at(0), d.timesteps).subarray(0, d.batch)),
    latentEps: normalsF32(at(1), d.batch * d.latentSize),
    noise: normalsF32(at(2), d.batch * d.latentSize),
  };
}

/**
 * The semi-deterministic ablation (paper, section 4.4): L_det's batch with exactly one
 * source redrawn for `step`, from streams no training batch reads: timesteps (again the
 * first B entries of a permutation, all different), the noise, the latent draws, or the
 * data (image and caption template per sample, uniform; still unflipped).
 */
export function resampledEvalPlan(seed: number, step: number, d: BatchDims, source: EvalRandomness): BatchPlan {
  const plan = evalBatchPlan(seed, d);
  const at = (stream: number) => ({ seed, stream, step });
  switch (source) {
    case "timesteps":
      return { ...plan, timesteps: Array.from(permutation(at(RngStream.resampledTimestep), d.timesteps).subarray(0, d.batch)) };
    case "noise":
      return { ...plan, noise: normalsF32(at(RngStream.resampledNoise), d.batch * d.latentSize) };
    case "latents":
      return { ...plan, latentEps: normalsF32(at(RngStream.resampledLatent), d.batch * d.latentSize) };
    case "data":
      return {
        ...plan,
        images: Array.from(integers(at(RngStream.resampledImage), d.batch, d.images)),
        templates: Array.from(integers(at(RngStream.resampledCaption), d.batch, d.templates)),
      };
  }
}
