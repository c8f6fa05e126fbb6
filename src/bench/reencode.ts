/**
 * diffusers' way, for comparison with the engine's cached latents: every training step
 * runs the VAE encoder on that step's images (`vae.encode(pixel_values).latent_dist.sample()`
 * in textual_inversion.py), then the same step graph. The batch (images, flips, templates,
 * eps, noise, timesteps) is the engine's plan for that step, so both ways compute the same
 * loss up to float rounding; the bench reports the difference as a check that the
 * comparison is like for like.
 */
import { addNoise, createNoiseSchedule, trainingTarget } from "../core/schedule/index.js";
import { captionsFor } from "../engine/captions.js";
import { loadTrainingImages, type TrainingImage } from "../engine/images/index.js";
import type { BatchPlan } from "../engine/inversion/batch-plan.js";
import type { OpenInversion } from "../engine/inversion/job.js";
import { ModelSession } from "../runtime/session.js";
import { TextualInversionRunner } from "../runtime/textual-inversion.js";

export interface ReencodingStep {
  /** The VAE part alone: encodes step `step`'s images and samples their latents. */
  encode(step: number): Promise<Float32Array>;
  /** Encodes step `step`'s images, samples latents, runs the step graph; returns the loss. */
  run(step: number, params: Float32Array): Promise<number>;
  close(): Promise<void>;
}

export async function openReencodingStep(job: OpenInversion, options: { threads: number; cacheDir?: string | null }): Promise<ReencodingStep> {
  const d = job.description;
  const images: TrainingImage[] = await loadTrainingImages(d.images.map((i) => i.path), { resolution: d.resolution, withFlipped: d.flipProbability > 0 });
  const captionIds = captionsFor(d.property, job.placeholder.tokens).map((c) => job.tokenizer.encode(c).ids);
  const schedule = createNoiseSchedule(job.folder.schedulerConfig);
  const vae = await ModelSession.fromFile(job.folder.vaeEncoder, { threads: options.threads });
  const runner = new TextualInversionRunner(job.folder.root, { threads: options.threads, ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}) });
  const input = vae.inputNames[0]!;
  const scale = Math.fround(job.folder.scalingFactor);
  const pixelsPerImage = 3 * d.resolution * d.resolution;
  const encode = async (plan: BatchPlan) => {
    const batch = plan.images.length;
    const pixels = new Float32Array(batch * pixelsPerImage);
    plan.images.forEach((index, b) => pixels.set(plan.flips[b] ? images[index]!.flipped! : images[index]!.pixels, b * pixelsPerImage));
    const out = (await vae.run({ [input]: { data: pixels, dims: [batch, 3, d.resolution, d.resolution] } }, ["latent_parameters"])).latent_parameters!;
    const [, c2, h, w] = out.dims as [number, number, number, number];
    const n = (c2 / 2) * h * w;
    const dist = out.data as Float32Array;
    // DiagonalGaussianDistribution.sample(): mean + exp(logvar / 2) * eps, logvar clamped to [-30, 20].
    const latents = new Float32Array(batch * n);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < n; i++) {
        const mean = dist[b * 2 * n + i]!, logvar = dist[b * 2 * n + n + i]!;
        const std = Math.fround(Math.exp(0.5 * Math.min(20, Math.max(-30, logvar))));
        latents[b * n + i] = Math.fround(mean + Math.fround(std * plan.latentEps[b * n + i]!)) * scale;
      }
    }
    return { latents, shape: [batch, c2 / 2, h, w] };
  };
  return {
    encode: async (step) => (await encode(job.objective.trainPlan(step))).latents,
    async run(step, params) {
      const plan = job.objective.trainPlan(step);
      const batch = plan.images.length;
      const { latents, shape } = await encode(plan);
      const tokens = captionIds[0]!.length;
      const ids = new Int32Array(batch * tokens);
      plan.templates.forEach((t, b) => ids.set(captionIds[t]!, b * tokens));
      const { loss } = await runner.step({
        inputIds: { data: ids, dims: [batch, tokens] },
        concept: { data: params, dims: [d.numVectors, job.hiddenSize] },
        noisyLatents: { data: addNoise(schedule, latents, plan.noise, plan.timesteps, shape), dims: shape },
        timesteps: { data: Int32Array.from(plan.timesteps), dims: [batch] },
        target: { data: trainingTarget(schedule, latents, plan.noise, plan.timesteps, shape), dims: shape },
      });
      return loss;
    },
    async close() {
      await vae.release();
      await runner.close();
    },
  };
}
