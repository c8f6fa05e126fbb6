/**
 * What the slice runner optimises. The engine implements it with the diffusion model;
 * tests and `dvar invert --synthetic` use the synthetic objective.
 */
import type { LossAndGradient } from "../optim/optimizer.js";

/**
 * A source of randomness of the evaluation batch (paper, section 4.4): the diffusion
 * timesteps, the diffusion noise, the VAE latent samples, or the data (images and their
 * captions; a new image brings its own latent distribution, the latent draw stays fixed).
 */
export type EvalRandomness = "timesteps" | "noise" | "latents" | "data";
export const EVAL_RANDOMNESS: readonly EvalRandomness[] = ["timesteps", "noise", "latents", "data"];

export interface Objective {
  /** Number of trained parameters (the flat length of the concept vectors). */
  readonly size: number;
  /**
   * Training loss and gradient of update `step` (0-based: the update that turns
   * `state.step = step` into `step + 1`) at `params`. Every random draw (images,
   * captions, flips, latent samples, timesteps, noise) must come from the counter-based
   * RNG addressed by `step`, so the result depends on nothing but (step, params);
   * SAM calls it twice per step with different params.
   */
  trainLossAndGradient(step: number, params: Float32Array): Promise<LossAndGradient>;
  /** L_det: the loss on the evaluation batch drawn once at the start (deterministic in params). */
  evalLoss(params: Float32Array): Promise<number>;
  /** An external score (e.g. CLIP image similarity); needed only by the "patience" rule. */
  evalScore?(params: Float32Array): Promise<number>;
  /** The sources `resampledEvalLoss` can redraw (none when absent). */
  readonly resampleSources?: readonly EvalRandomness[];
  /**
   * The semi-deterministic ablation: the loss on the evaluation batch with exactly one
   * source redrawn for `step` (every other input as in L_det's batch).
   */
  resampledEvalLoss?(source: EvalRandomness, step: number, params: Float32Array): Promise<number>;
}
