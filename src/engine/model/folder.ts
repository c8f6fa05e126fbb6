/**
 * A Stable Diffusion pipeline in the Optimum ONNX layout, as the engine needs it: where
 * each model is, the VAE's scaling factor and the image resolution, the scheduler config,
 * and a fingerprint that a checkpoint records so a resume on another model is refused.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export class ModelFolderError extends Error {
  override name = "ModelFolderError";
}

export interface ModelFolder {
  /** Absolute path of the pipeline folder. */
  root: string;
  textEncoder: string;
  unet: string;
  vaeEncoder: string;
  vaeDecoder: string;
  tokenizerDir: string;
  /** scheduler_config.json as parsed (raw: samplers read fields by their own defaults). */
  schedulerConfig: Record<string, unknown>;
  /** Latents are scaled by this after encoding and divided by it before decoding (SD 1.x: 0.18215). */
  scalingFactor: number;
  /** Side of the square images the model works on. */
  resolution: number;
  /** Image side / latent side (2^(len(block_out_channels) - 1); SD: 8). */
  vaeScaleFactor: number;
  latentChannels: number;
  /** Present when the folder ships an image encoder for scoring (image_encoder/model.onnx). */
  imageEncoder?: string;
}

function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ModelFolderError(`${path} not found: ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ModelFolderError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ModelFolderError(`${path} is not a JSON object`);
  return value as Record<string, unknown>;
}

function optionalJson(path: string): Record<string, unknown> {
  return existsSync(path) ? readJson(path, "") : {};
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Reads and checks a pipeline folder; every missing part is named in the error. */
export function openModelFolder(folder: string): ModelFolder {
  const root = resolve(folder);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ModelFolderError(`model folder ${root} does not exist`);
  const model = (sub: string) => {
    const path = join(root, sub, "model.onnx");
    if (!existsSync(path)) throw new ModelFolderError(`${path} not found: expected a Stable Diffusion pipeline in the Optimum ONNX layout`);
    return path;
  };
  const vaeConfig = { ...optionalJson(join(root, "vae_decoder", "config.json")), ...optionalJson(join(root, "vae_encoder", "config.json")) };
  const unetConfig = optionalJson(join(root, "unet", "config.json"));
  const scalingFactor = vaeConfig.scaling_factor ?? 0.18215;
  if (typeof scalingFactor !== "number" || !(scalingFactor > 0)) throw new ModelFolderError(`vae config scaling_factor must be a positive number, got ${JSON.stringify(scalingFactor)}`);
  const blocks = Array.isArray(vaeConfig.block_out_channels) ? vaeConfig.block_out_channels.length : 4;
  const vaeScaleFactor = 2 ** Math.max(0, blocks - 1);
  const unetSample = positiveInt(unetConfig.sample_size);
  const resolution = unetSample !== undefined ? unetSample * vaeScaleFactor : positiveInt(vaeConfig.sample_size);
  if (resolution === undefined) throw new ModelFolderError(`${root}: neither unet/config.json nor the VAE config gives sample_size, so the resolution is unknown`);
  const tokenizerDir = join(root, "tokenizer");
  if (!existsSync(tokenizerDir)) throw new ModelFolderError(`${tokenizerDir} not found: the pipeline's tokenizer is needed`);
  const imageEncoder = join(root, "image_encoder", "model.onnx");
  return {
    root,
    textEncoder: model("text_encoder"),
    unet: model("unet"),
    vaeEncoder: model("vae_encoder"),
    vaeDecoder: model("vae_decoder"),
    tokenizerDir,
    schedulerConfig: readJson(join(root, "scheduler", "scheduler_config.json"), "the pipeline's scheduler config is needed"),
    scalingFactor,
    resolution,
    vaeScaleFactor,
    latentChannels: positiveInt(vaeConfig.latent_channels) ?? positiveInt(unetConfig.in_channels) ?? 4,
    ...(existsSync(imageEncoder) ? { imageEncoder } : {}),
  };
}

/** Files up to this size are hashed whole; larger ones (external weights) by size only. */
const HASH_LIMIT = 64 * 1024 * 1024;

/**
 * SHA-256 over the pipeline's configs, tokenizer files and models (content, or name and
 * size for files over 64 MiB), in a fixed order: what a checkpoint records of its model.
 */
export function modelFingerprint(folder: ModelFolder): string {
  const h = createHash("sha256");
  const files = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "tokenizer/tokenizer_config.json",
    ...["text_encoder", "unet", "vae_encoder", "vae_decoder", "image_encoder"].flatMap((m) => [`${m}/model.onnx`, `${m}/model.onnx_data`, `${m}/config.json`]),
  ];
  for (const name of files) {
    const path = join(folder.root, name);
    if (!existsSync(path)) continue;
    const size = statSync(path).size;
    h.update(`${name}\0${size}\0`);
    if (size <= HASH_LIMIT) h.update(readFileSync(path));
  }
  return h.digest("hex");
}
