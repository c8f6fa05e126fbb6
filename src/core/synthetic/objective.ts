/**
 * A synthetic stochastic objective that behaves like Textual Inversion's (the paper's
 * Figure 1 and section 3.2): each sample's loss depends strongly on a random
 * timestep-like variable t and weakly on the parameters, so the training loss is noise
 * with no visible trend, while the same loss on a batch fixed at the start (L_det)
 * falls and then plateaus.
 *
 * Sample b of update s draws an "image" k_b (one of `images` targets), t_b in 0..999 and
 * noise e_b (d-dimensional) from the counter-based RNG at step s. With theta the d
 * parameters, theta* the target and u_k the image's offset:
 *
 *   r_b = theta - (theta* + u_k) + sigma e_b                    (residual, like eps - eps_hat)
 *   l_b = c(t_b) + w(t_b) mean_i r_bi^2,   c(t) = c0 + c1 (1 - t/1000)^6,   w(t) = w0 (0.5 + t/1000)
 *   loss = mean_b l_b,   d loss / d theta_i = mean_b w(t_b) (2/d) r_bi
 *
 * c(t) is the large timestep-dependent part (diffusion losses are largest at small t);
 * w(t) is small, so the parameters move the loss far less than t does.
 * The evaluation batch takes image b mod images, the first B entries of a permutation
 * of 0..999 as timesteps, and its own noise, all drawn once (as the authors' code does).
 */
import { integers, normals, permutation, RngStream } from "../rng/stream.js";
import type { EvalRandomness, Objective } from "../inversion/objective.js";
import type { LossAndGradient } from "../optim/optimizer.js";

export interface SyntheticSettings {
  /** Parameters (a concept vector has 768; a few dozen keep this fast). */
  dim: number;
  batchSize: number;
  evalBatchSize: number;
  /** Distinct "training images", each with its own target offset. */
  images: number;
  /** Scale of the per-sample noise in the residual. */
  sigma: number;
  /** Spread of the per-image target offsets u_k. */
  imageSpread: number;
  c0: number;
  c1: number;
  w0: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticSettings = {
  dim: 32,
  batchSize: 4,
  evalBatchSize: 4,
  images: 4,
  sigma: 2,
  imageSpread: 0.3,
  c0: 0.02,
  c1: 0.6,
  w0: 0.005,
};

export interface SyntheticObjective extends Objective {
  readonly settings: SyntheticSettings;
  /** The initial parameters (drawn from the `init` stream, like a random token's embedding). */
  initialParams(): Float32Array;
  /** theta*: the point the per-image targets are spread around. */
  readonly target: Float64Array;
}

const TIMESTEPS = 1000;

interface Batch {
  images: Int32Array;
  timesteps: Int32Array;
  noise: Float64Array;
}

export function createSyntheticObjective(seed: number, overrides: Partial<SyntheticSettings> = {}): SyntheticObjective {
  const settings = { ...SYNTHETIC_DEFAULTS, ...overrides };
  const { dim: d, images, sigma, imageSpread, c0, c1, w0 } = settings;
  const base = (t: number) => c0 + c1 * (1 - t / TIMESTEPS) ** 6;
  const weight = (t: number) => w0 * (0.5 + t / TIMESTEPS);

  // Drawn once per job: theta* and the image offsets (synthetic stream), the eval batch.
  const drawn = normals({ seed, stream: RngStream.synthetic, step: 0 }, d * (1 + images));
  const target = drawn.slice(0, d);
  const imageTargets = Array.from({ length: images }, (_, k) =>
    Float64Array.from({ length: d }, (_, i) => target[i]! + imageSpread * drawn[d * (1 + k) + i]!),
  );
  const evalBatch: Batch = {
    images: Int32Array.from({ length: settings.evalBatchSize }, (_, b) => b % images),
    timesteps: permutation({ seed, stream: RngStream.evalBatch, step: 0 }, TIMESTEPS).slice(0, settings.evalBatchSize),
    noise: normals({ seed, stream: RngStream.evalBatch, step: 1 }, settings.evalBatchSize * d),
  };

  function trainBatch(step: number): Batch {
    const n = settings.batchSize;
    return {
      images: integers({ seed, stream: RngStream.image, step }, n, images),
      timesteps: integers({ seed, stream: RngStream.timestep, step }, n, TIMESTEPS),
      noise: normals({ seed, stream: RngStream.noise, step }, n * d),
    };
  }

  function lossAndGradient(batch: Batch, params: Float32Array, withGradient: boolean): LossAndGradient {
    if (params.length !== d) throw new RangeError(`synthetic objective takes ${d} parameters, got ${params.length}`);
    const n = batch.timesteps.length;
    const grad = new Float64Array(d);
    let loss = 0;
    for (let b = 0; b < n; b++) {
      const t = batch.timesteps[b]!;
      const goal = imageTargets[batch.images[b]!]!;
      const w = weight(t);
      let squares = 0;
      for (let i = 0; i < d; i++) {
        const r = params[i]! - goal[i]! + sigma * batch.noise[b * d + i]!;
        squares += r * r;
        if (withGradient) grad[i]! += (w * 2 * r) / (d * n);
      }
      loss += (base(t) + (w * squares) / d) / n;
    }
    return { loss, grad: Float32Array.from(grad) };
  }

  return {
    size: d,
    settings,
    target,
    initialParams: () => Float32Array.from(normals({ seed, stream: RngStream.init, step: 0 }, d)),
    trainLossAndGradient: async (step, params) => lossAndGradient(trainBatch(step), params, true),
    evalLoss: async (params) => lossAndGradient(evalBatch, params, false).loss,
    // It has no latents; its "data" is the image choice.
    resampleSources: ["timesteps", "noise", "data"],
    resampledEvalLoss: async (source, step, params) => lossAndGradient(resampledEvalBatch(source, step), params, false).loss,
  };

  /** The evaluation batch with one source redrawn for `step` (the ablation's streams, as the engine's). */
  function resampledEvalBatch(source: EvalRandomness, step: number): Batch {
    const n = settings.evalBatchSize;
    const at = (stream: number) => ({ seed, stream, step });
    switch (source) {
      case "timesteps":
        return { ...evalBatch, timesteps: permutation(at(RngStream.resampledTimestep), TIMESTEPS).slice(0, n) };
      case "noise":
        return { ...evalBatch, noise: normals(at(RngStream.resampledNoise), n * d) };
      case "data":
        return { ...evalBatch, images: integers(at(RngStream.resampledImage), n, images) };
      case "latents":
        throw new RangeError("the synthetic objective has no latent samples to redraw");
    }
  }
}

/** How a run's config names the synthetic objective (so its hash covers every setting). */
export function describeSynthetic(settings: SyntheticSettings = SYNTHETIC_DEFAULTS): Record<string, string | number> {
  return { kind: "synthetic", ...settings };
}

/** Reads the settings back from a config's `objective` field; throws a TypeError if it is not the synthetic objective. */
export function syntheticSettingsFrom(objective: Record<string, unknown>): SyntheticSettings {
  if (objective.kind !== "synthetic") throw new TypeError(`objective kind is ${JSON.stringify(objective.kind)}, not "synthetic"`);
  const settings = { ...SYNTHETIC_DEFAULTS };
  for (const key of Object.keys(SYNTHETIC_DEFAULTS) as Array<keyof SyntheticSettings>) {
    const value = objective[key];
    if (typeof value !== "number" || !Number.isFinite(value)) throw new TypeError(`synthetic objective setting '${key}' is missing or not a number`);
    settings[key] = value;
  }
  return settings;
}
