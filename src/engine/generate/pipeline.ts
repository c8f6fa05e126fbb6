/**
 * Text-to-image with learned concept vectors (diffusers' StableDiffusionPipeline order):
 * encode the prompt and the negative prompt (the learned vectors injected where their
 * tokens appear), run the sampler loop with classifier-free guidance (one UNet call per
 * step on the batch [negative x n, prompt x n]), divide by the VAE scaling factor,
 * decode, and map [-1, 1] to 8-bit RGB as diffusers does: round(clamp(x / 2 + 0.5) * 255).
 */
import { createSampler, sampleLoop, samplerKindForConfig, type SamplerKind } from "../../core/sampling/index.js";
import type { LearnedEmbedding } from "../embeddings/index.js";
import { type ModelFolder } from "../model/folder.js";
import { addPlaceholder, type ClipTokenizer, loadClipTokenizer } from "../tokenizer/index.js";
import { GenerationModelError, openConditioningEncoder, openDenoiser, openLatentDecoder } from "./models.js";
import type { ModelRunOptions } from "../../runtime/session.js";

export interface GenerationRequest {
  prompt: string;
  negativePrompt?: string;
  /** Images (default 4). */
  n?: number;
  /** Sampler steps (default 25). */
  steps?: number;
  /** Classifier-free guidance scale (default 7.5; 1 turns guidance off). */
  guidance?: number;
  /** Default: what scheduler_config.json names. */
  sampler?: SamplerKind;
  /** Image i uses seed + i (default 0). */
  seed?: number;
  /** Learned vectors and the word that selects them in prompts; none: the plain model. */
  embedding?: LearnedEmbedding;
  threads?: number;
}

export interface GeneratedImage {
  seed: number;
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, row-major. */
  rgb: Uint8Array;
}

export interface GenerationResult {
  images: GeneratedImage[];
  sampler: SamplerKind;
  /** Notes the caller should show (e.g. a prompt that does not use the learned token). */
  warnings: string[];
}

/** The prompt with a k-vector token expanded to "tok tok_1 ... tok_{k-1}" (diffusers' maybe_convert_prompt). */
export function expandToken(prompt: string, token: string, placeholderText: string): string {
  return prompt.split(token).join(placeholderText);
}

/** 8-bit RGB from one decoded image [3, H, W]. */
export function toRgb(chw: Float32Array, height: number, width: number): Uint8Array {
  const plane = height * width;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, chw[c * plane + i]! / 2 + 0.5));
      out[3 * i + c] = Math.round(v * 255);
    }
  }
  return out;
}

function tokenizerFor(base: ClipTokenizer, embedding: LearnedEmbedding | undefined): { tokenizer: ClipTokenizer; expand: (p: string) => string } {
  if (!embedding) return { tokenizer: base, expand: (p) => p };
  const { tokenizer, placeholder } = addPlaceholder(base, embedding.token, embedding.numVectors);
  return { tokenizer, expand: (p) => expandToken(p, embedding.token, placeholder.text) };
}

/** Sessions opened once, for many generations (e.g. scoring candidate tokens). */
export interface Generator {
  generate(request: GenerationRequest): Promise<GenerationResult>;
  close(): Promise<void>;
}

export async function openGenerator(folder: ModelFolder, sessions: ModelRunOptions = {}): Promise<Generator> {
  const base = await loadClipTokenizer(folder.tokenizerDir);
  const encoder = await openConditioningEncoder(folder, sessions);
  const denoiser = await openDenoiser(folder, sessions);
  const decoder = await openLatentDecoder(folder, sessions);
  if (base.baseVocabSize !== encoder.vocabSize) {
    throw new GenerationModelError(`the tokenizer has ${base.baseVocabSize} tokens, the text encoder ${encoder.vocabSize}`);
  }

  async function generate(request: GenerationRequest): Promise<GenerationResult> {
    const n = request.n ?? 4;
    const steps = request.steps ?? 25;
    const guidance = request.guidance ?? 7.5;
    const seed = request.seed ?? 0;
    if (!Number.isSafeInteger(n) || n < 1) throw new GenerationModelError(`the number of images must be a positive integer, got ${n}`);
    const warnings: string[] = [];
    const { embedding } = request;
    if (embedding && !request.prompt.includes(embedding.token)) warnings.push(`the prompt does not contain the embedding's token ${embedding.token}`);
    if (embedding && embedding.hiddenSize !== encoder.hiddenSize) {
      throw new GenerationModelError(`the embedding's vectors have width ${embedding.hiddenSize}, the text encoder takes ${encoder.hiddenSize}`);
    }
    const sampler = createSampler(folder.schedulerConfig, { steps, ...(request.sampler ? { kind: request.sampler } : {}) });
    const choice = samplerKindForConfig(folder.schedulerConfig);
    if (!request.sampler && choice.fallback) warnings.push(`the scheduler config names ${choice.configClass}, which is not implemented: DDIM stands in (same model, another integrator)`);
    const { tokenizer, expand } = tokenizerFor(base, embedding);
    const concept = embedding?.vectors ?? new Float32Array(encoder.hiddenSize);
    const k = embedding?.numVectors ?? 1;
    const L = tokenizer.maxLength;
    const H = encoder.hiddenSize;
    const cond = await encoder.encode(tokenizer.encode(expand(request.prompt)).ids, 1, concept, k);
    const uncond = await encoder.encode(tokenizer.encode(expand(request.negativePrompt ?? "")).ids, 1, concept, k);
    // The UNet batch: negative prompt for the first n rows, prompt for the rest (unguided: prompt only).
    const guided = guidance > 1;
    const rows = guided ? 2 * n : n;
    const hidden = new Float32Array(rows * L * H);
    for (let r = 0; r < rows; r++) hidden.set(guided && r < n ? uncond : cond, r * L * H);
    const latentSide = folder.resolution / folder.vaeScaleFactor;
    const shape = [n, folder.latentChannels, latentSide, latentSide];
    const result = await sampleLoop({
      sampler,
      seed,
      guidanceScale: guidance,
      latentShape: shape,
      denoise: async ({ latentModelInput, timestep, guided: both }) => {
        const input = both ? new Float32Array(latentModelInput.length * 2) : latentModelInput;
        if (both) {
          input.set(latentModelInput, 0);
          input.set(latentModelInput, latentModelInput.length);
        }
        const out = await denoiser.predict(input, [rows, ...shape.slice(1)], timestep, hidden, [rows, L, H]);
        return both ? { unconditional: out.slice(0, latentModelInput.length), conditional: out.slice(latentModelInput.length) } : { conditional: out };
      },
    });
    const scaled = result.latents.map((v) => v / folder.scalingFactor);
    const decoded = await decoder.decode(scaled, shape);
    const [, , height, width] = decoded.dims as [number, number, number, number];
    const per = 3 * height * width;
    const images = result.seeds.map((s, i) => ({ seed: s, width, height, rgb: toRgb(decoded.data.subarray(i * per, (i + 1) * per), height, width) }));
    return { images, sampler: sampler.kind, warnings };
  }

  return {
    generate,
    async close() {
      await encoder.release();
      await denoiser.release();
      await decoder.release();
    },
  };
}

/** One generation with sessions opened and closed around it. */
export async function generateImages(folder: ModelFolder, request: GenerationRequest): Promise<GenerationResult> {
  const generator = await openGenerator(folder, { threads: request.threads ?? 0 });
  try {
    return await generator.generate(request);
  } finally {
    await generator.close();
  }
}
