/**
 * A textual-inversion job on a model folder: its description (what the run config's
 * `objective` field holds, so the config hash covers the model, the images, the token and
 * every batch setting) and the objective rebuilt from that description alone, with the
 * input files checked against the hashes it records. A resume therefore needs nothing
 * but the checkpoint, and is refused if the model or the images changed.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import type { InversionConfigInput } from "../../core/inversion/index.js";
import type { CriterionSpec } from "../../core/stopping/index.js";
import { readModelFile } from "../../graph/onnx/model-file.js";
import { readTableRows, tokenEmbeddingTable } from "../../graph/textual-inversion/text-encoder.js";
import { createNoiseSchedule } from "../../core/schedule/index.js";
import { ModelSession, type ModelRunOptions } from "../../runtime/session.js";
import { TextualInversionRunner } from "../../runtime/textual-inversion.js";
import { captionsFor, type LearnableProperty } from "../captions.js";
import { loadTrainingImages, resolveImageFiles } from "../images/index.js";
import { type ModelFolder, modelFingerprint, openModelFolder } from "../model/folder.js";
import { addPlaceholder, type ClipTokenizer, loadClipTokenizer, type Placeholder, resolveInitializer } from "../tokenizer/index.js";
import { createTiObjective, type TiObjective } from "./objective.js";
import { LatentCache } from "./latents.js";
import { bestInitializer } from "./best-init.js";

export class InversionJobError extends Error {
  override name = "InversionJobError";
}

export type InitChoice = { kind: "word"; word: string } | { kind: "random" } | { kind: "best" };

/** What a user asks for; defaults as diffusers' textual_inversion.py and the DVAR paper. */
export interface InversionRequest {
  model: string;
  images: string | readonly string[];
  token: string;
  init: InitChoice;
  numVectors?: number;
  property?: LearnableProperty;
  seed: number;
  batchSize?: number;
  evalBatchSize?: number;
  flipProbability?: number;
  /** Before scaling (default 5e-3). */
  learningRate?: number;
  /** lr x batch size (x gradient accumulation, 1 here), as diffusers' --scale_lr. Default true. */
  scaleLr?: boolean;
}

const descriptionSchema = z.strictObject({
  kind: z.literal("textual-inversion"),
  version: z.literal(1),
  model: z.strictObject({ path: z.string(), fingerprint: z.string() }),
  images: z.array(z.strictObject({ path: z.string(), sha256: z.string() })).min(1),
  token: z.string().min(1),
  numVectors: z.int().min(1),
  property: z.enum(["object", "style"]),
  initializer: z.strictObject({ kind: z.enum(["word", "random", "best"]), word: z.string().optional(), tokenId: z.int().min(0), token: z.string() }),
  batchSize: z.int().min(1),
  evalBatchSize: z.int().min(1),
  flipProbability: z.number().min(0).max(1),
  resolution: z.int().min(1),
  baseLearningRate: z.number().positive(),
  scaleLr: z.boolean(),
});

export type InversionDescription = z.infer<typeof descriptionSchema>;

export function parseDescription(objective: Record<string, unknown>): InversionDescription {
  const parsed = descriptionSchema.safeParse(objective);
  if (!parsed.success) throw new InversionJobError(`the run's objective is not a textual inversion on a model folder: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The learning rate the optimizer uses. */
/** Training batch size when a request names none (the DVAR paper's first version). */
export const DEFAULT_TRAIN_BATCH_SIZE = 4;

export function effectiveLearningRate(d: InversionDescription): number {
  return d.scaleLr ? d.baseLearningRate * d.batchSize : d.baseLearningRate;
}

/** The run config of a described job (what `dvar invert` and `dvar evaluate` both train with). */
export function inversionRunConfig(d: InversionDescription, seed: number, maxSteps: number, stop: CriterionSpec): InversionConfigInput {
  return {
    seed,
    maxSteps,
    learningRate: effectiveLearningRate(d),
    optimizer: { name: "adamw" },
    stop,
    objective: d as unknown as InversionConfigInput["objective"],
  };
}

async function hashFile(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

/** Checks the request against the model and files and records them (no model runs yet). */
export async function describeInversion(request: InversionRequest, options: { threads?: number } = {}): Promise<InversionDescription> {
  const folder = openModelFolder(request.model);
  if (request.init.kind === "best" && !folder.imageEncoder) {
    throw new InversionJobError(`--init best needs an image-text scorer, and ${folder.root} has no image_encoder/; use an initializer word or random`);
  }
  const tokenizer = await loadClipTokenizer(folder.tokenizerDir);
  const numVectors = request.numVectors ?? 1;
  addPlaceholder(tokenizer, request.token, numVectors); // refuses a token the vocabulary holds
  const files = await resolveImageFiles(request.images);
  const property = request.property ?? "object";
  let init;
  if (request.init.kind === "best") {
    const references = await loadTrainingImages(files, { resolution: folder.resolution });
    init = (await bestInitializer(folder, tokenizer, references, { property, seed: request.seed, threads: options.threads ?? 0 })).best;
  } else {
    init = resolveInitializer(tokenizer, request.init.kind === "word" ? request.init : { kind: "random", seed: request.seed });
  }
  return {
    kind: "textual-inversion",
    version: 1,
    model: { path: folder.root, fingerprint: modelFingerprint(folder) },
    images: await Promise.all(files.map(async (f) => ({ path: resolve(f), sha256: await hashFile(f) }))),
    token: request.token,
    numVectors,
    property,
    initializer: { kind: request.init.kind, ...(request.init.kind === "word" ? { word: request.init.word } : {}), tokenId: init.id, token: init.token },
    batchSize: request.batchSize ?? DEFAULT_TRAIN_BATCH_SIZE,
    evalBatchSize: request.evalBatchSize ?? 4,
    flipProbability: request.flipProbability ?? 0.5,
    resolution: folder.resolution,
    baseLearningRate: request.learningRate ?? 5e-3,
    scaleLr: request.scaleLr ?? true,
  };
}

/** How the model's sessions run (ModelRunOptions: threads, offThread, executionProviders), and what the job reads. */
export interface OpenOptions extends ModelRunOptions {
  /** Compiled-graph cache folder; null disables it. */
  cacheDir?: string | null;
  /** Where the model and images are now, if they moved since the description was made (hashes must still match). */
  modelDir?: string;
  images?: string | readonly string[];
  /**
   * This job's latent cache from an earlier open (LatentCache.decode, with the caller's check
   * that it was built from these inputs): used instead of decoding and encoding the images.
   */
  latents?: LatentCache;
}

export interface OpenInversion {
  description: InversionDescription;
  folder: ModelFolder;
  tokenizer: ClipTokenizer;
  placeholder: Placeholder;
  objective: TiObjective;
  latents: LatentCache;
  /** The initializer token's embedding, repeated for each of the k vectors (diffusers' initialisation). */
  initialParams: Float32Array;
  hiddenSize: number;
  close(): Promise<void>;
}

/** Builds the objective of a described job: loads and checks inputs, encodes the images once (unless given their cache). */
export async function openInversion(description: InversionDescription, seed: number, options: OpenOptions = {}): Promise<OpenInversion> {
  const d = description;
  const folder = openModelFolder(options.modelDir ?? d.model.path);
  if (modelFingerprint(folder) !== d.model.fingerprint) {
    throw new InversionJobError(`the model in ${folder.root} is not the one this run was started with (fingerprint differs)`);
  }
  if (folder.resolution !== d.resolution) throw new InversionJobError(`the model works at ${folder.resolution}px, the run at ${d.resolution}px`);
  const files = options.images !== undefined ? await resolveImageFiles(options.images) : d.images.map((i) => i.path);
  if (files.length !== d.images.length) throw new InversionJobError(`the run was started with ${d.images.length} images, ${files.length} given now`);
  for (const [i, file] of files.entries()) {
    let hash: string;
    try {
      hash = await hashFile(file);
    } catch (error) {
      throw new InversionJobError(`cannot read training image ${file}: ${(error as Error).message}`);
    }
    if (hash !== d.images[i]!.sha256) throw new InversionJobError(`training image ${file} differs from the one this run was started with (${d.images[i]!.path})`);
  }

  const base = await loadClipTokenizer(folder.tokenizerDir);
  const { tokenizer, placeholder } = addPlaceholder(base, d.token, d.numVectors);
  const captionIds = captionsFor(d.property, placeholder.tokens).map((caption) => tokenizer.encode(caption).ids);
  const sessions: ModelRunOptions = { threads: options.threads, offThread: options.offThread, executionProviders: options.executionProviders };
  const latents = options.latents ? checkedLatents(options.latents, d, folder) : await encodeImages(files, d, folder, sessions);

  const table = tokenEmbeddingTable(readModelFile(folder.textEncoder));
  const [vocabSize, hiddenSize] = table.dims as [number, number];
  if (vocabSize !== tokenizer.baseVocabSize) {
    throw new InversionJobError(`the tokenizer has ${tokenizer.baseVocabSize} tokens, the text encoder's embedding table ${vocabSize} rows`);
  }
  const row = readTableRows(table, [d.initializer.tokenId]);
  const initialParams = new Float32Array(d.numVectors * hiddenSize);
  for (let j = 0; j < d.numVectors; j++) initialParams.set(row, j * hiddenSize);

  const runner = new TextualInversionRunner(folder.root, { ...sessions, ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}) });
  const objective = createTiObjective({
    runner,
    latents,
    schedule: createNoiseSchedule(folder.schedulerConfig),
    captionIds,
    numVectors: d.numVectors,
    hiddenSize,
    seed,
    batchSize: d.batchSize,
    evalBatchSize: d.evalBatchSize,
    flipProbability: d.flipProbability,
  });
  return { description: d, folder, tokenizer, placeholder, objective, latents, initialParams, hiddenSize, close: () => runner.close() };
}

/** Decodes the training images and runs the VAE encoder once per image (and flip). */
async function encodeImages(files: readonly string[], d: InversionDescription, folder: ModelFolder, sessions: ModelRunOptions): Promise<LatentCache> {
  const images = await loadTrainingImages(files, { resolution: d.resolution, withFlipped: d.flipProbability > 0 });
  const vae = await ModelSession.fromFile(folder.vaeEncoder, sessions);
  try {
    if (!vae.outputNames.includes("latent_parameters")) {
      throw new InversionJobError(
        `${folder.vaeEncoder} outputs ${vae.outputNames.join(", ")}; the engine needs 'latent_parameters' (mean and logvar), which Optimum exports give since 1.9`,
      );
    }
    const input = vae.inputNames[0]!;
    return await LatentCache.build(images, async (pixels, dims) => {
      const out = (await vae.run({ [input]: { data: pixels, dims } }, ["latent_parameters"])).latent_parameters!;
      return { data: out.data as Float32Array, dims: out.dims };
    }, { resolution: d.resolution, scalingFactor: folder.scalingFactor, withFlipped: d.flipProbability > 0 });
  } finally {
    await vae.release();
  }
}

/** A cache built earlier must fit this job: one entry per image, flips when it trains with them, the model's scaling factor. */
function checkedLatents(latents: LatentCache, d: InversionDescription, folder: ModelFolder): LatentCache {
  const flips = d.flipProbability > 0;
  if (latents.images.length !== d.images.length || latents.images.some((image) => (image.flipped !== undefined) !== flips) || latents.scalingFactor !== folder.scalingFactor) {
    throw new InversionJobError(`the latent cache given does not fit this run (${latents.images.length} cached images for ${d.images.length}, scaling factor ${latents.scalingFactor})`);
  }
  return latents;
}
