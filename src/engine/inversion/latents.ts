/**
 * The VAE encoder runs once per training image (and once per flipped image) per job; what
 * it gives, the latent distribution's parameters, is cached, and every step draws its
 * latent samples from the job RNG. diffusers' textual_inversion.py re-encodes the images
 * at every step; sampling from cached parameters is the same distribution without the
 * encoder's cost (FACTS section 9: about 40% of an SD step).
 *
 * DiagonalGaussianDistribution as diffusers defines it: parameters = [mean, logvar] along
 * the channels, logvar clamped to [-30, 20], std = exp(logvar / 2); a sample is
 * mean + std * eps, and the UNet sees sample * scaling_factor.
 *
 * A job that runs in slices keeps its cache as an object of the job (`encode` / `decode`),
 * so only its first slice runs the encoder.
 */
import { basename } from "node:path";
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from "../../core/io/safetensors.js";
import type { TrainingImage } from "../images/index.js";

/** `format` of a stored latent cache (metadata of its safetensors file). */
const STORED_FORMAT = "dvar-latents";
const STORED_VERSION = "1";

export class LatentError extends Error {
  override name = "LatentError";
}

/** Runs the VAE encoder on one image [1, 3, S, S]; returns latent_parameters [1, 2C, h, w]. */
export type VaeEncodeFn = (pixels: Float32Array, dims: number[]) => Promise<{ data: Float32Array; dims: number[] }>;

export interface LatentDistribution {
  mean: Float32Array;
  std: Float32Array;
}

export interface CachedImageLatents {
  name: string;
  plain: LatentDistribution;
  /** Present when the cache was built with flips. */
  flipped?: LatentDistribution;
}

export class LatentCache {
  private constructor(
    readonly images: readonly CachedImageLatents[],
    /** Latent shape of one sample [C, h, w]. */
    readonly shape: readonly [number, number, number],
    readonly scalingFactor: number,
    /** VAE encoder runs made to build the cache (one per image and flip; 0 when it was read back). */
    readonly encoderRuns: number,
  ) {}

  static async build(images: readonly TrainingImage[], encode: VaeEncodeFn, options: { resolution: number; scalingFactor: number; withFlipped: boolean }): Promise<LatentCache> {
    if (images.length === 0) throw new LatentError("no training images to encode");
    const dims = [1, 3, options.resolution, options.resolution];
    let shape: [number, number, number] | null = null;
    let runs = 0;
    const distribution = async (name: string, pixels: Float32Array): Promise<LatentDistribution> => {
      const out = await encode(pixels, dims);
      runs++;
      const [b, c2, h, w] = out.dims;
      if (out.dims.length !== 4 || b !== 1 || c2! % 2 !== 0) {
        throw new LatentError(`the VAE encoder gave [${out.dims}] for ${name}; expected latent_parameters [1, 2C, h, w] (mean and logvar)`);
      }
      const here: [number, number, number] = [c2! / 2, h!, w!];
      if (shape && shape.join() !== here.join()) throw new LatentError(`latent shapes differ between images: [${shape}] and [${here}]`);
      shape = here;
      const half = out.data.length / 2;
      const mean = out.data.slice(0, half);
      const std = new Float32Array(half);
      for (let i = 0; i < half; i++) std[i] = Math.exp(0.5 * Math.min(20, Math.max(-30, out.data[half + i]!)));
      return { mean, std };
    };
    const cached: CachedImageLatents[] = [];
    for (const image of images) {
      const entry: CachedImageLatents = { name: image.name, plain: await distribution(image.name, image.pixels) };
      if (options.withFlipped) {
        if (!image.flipped) throw new LatentError(`${image.name} was loaded without its flipped copy`);
        entry.flipped = await distribution(`${image.name} (flipped)`, image.flipped);
      }
      cached.push(entry);
    }
    return new LatentCache(cached, shape!, options.scalingFactor, runs);
  }

  /**
   * The cache as a safetensors file: mean and std of every image (and flip) exactly as built,
   * so a cache read back samples bit-identical latents. `source` names what it was built from
   * (model, images, resolution, flips); `decode` refuses a cache built from anything else.
   */
  encode(source: string): Uint8Array {
    const shape = [...this.shape];
    const tensors: Record<string, Tensor> = {};
    const put = (name: string, d: LatentDistribution) => {
      tensors[`${name}.mean`] = { dtype: "F32", shape, data: d.mean };
      tensors[`${name}.std`] = { dtype: "F32", shape, data: d.std };
    };
    this.images.forEach((image, i) => {
      put(`image.${i}`, image.plain);
      if (image.flipped) put(`image.${i}.flipped`, image.flipped);
    });
    const withFlipped = this.images.every((image) => image.flipped !== undefined);
    return encodeSafetensors(tensors, {
      format: STORED_FORMAT,
      version: STORED_VERSION,
      source,
      shape: JSON.stringify(shape),
      // JSON numbers round-trip every double exactly.
      scalingFactor: JSON.stringify(this.scalingFactor),
      // File names only: the same images in another folder give the same bytes.
      names: JSON.stringify(this.images.map((image) => basename(image.name))),
      withFlipped: String(withFlipped),
    });
  }

  /** Reads a cache written by `encode(source)`; LatentError when it is malformed or was built from another source. */
  static decode(bytes: Uint8Array, source: string): LatentCache {
    let file;
    try {
      file = decodeSafetensors(bytes);
    } catch (error) {
      if (error instanceof SafetensorsError) throw new LatentError(`the stored latent cache is unreadable: ${error.message}`);
      throw error;
    }
    const meta = file.metadata;
    if (meta.format !== STORED_FORMAT || meta.version !== STORED_VERSION) throw new LatentError(`not a ${STORED_FORMAT} v${STORED_VERSION} file`);
    if (meta.source !== source) throw new LatentError("the stored latent cache was built from other inputs");
    let shape: [number, number, number];
    let scalingFactor: number;
    let names: string[];
    try {
      shape = JSON.parse(meta.shape ?? "") as [number, number, number];
      scalingFactor = JSON.parse(meta.scalingFactor ?? "") as number;
      names = JSON.parse(meta.names ?? "") as string[];
    } catch {
      throw new LatentError("the stored latent cache's metadata is malformed");
    }
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) throw new LatentError(`bad latent shape ${meta.shape}`);
    if (typeof scalingFactor !== "number" || !Number.isFinite(scalingFactor)) throw new LatentError(`bad scaling factor ${meta.scalingFactor}`);
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === "string")) throw new LatentError("bad image names");
    const size = shape[0] * shape[1] * shape[2];
    const read = (name: string): LatentDistribution => {
      const pick = (part: string) => {
        const t = file.tensors[`${name}.${part}`];
        if (!t || t.dtype !== "F32" || t.data.length !== size) throw new LatentError(`tensor ${name}.${part} is missing or not F32 [${shape}]`);
        return (t.data as Float32Array).slice();
      };
      return { mean: pick("mean"), std: pick("std") };
    };
    const withFlipped = meta.withFlipped === "true";
    const images = names.map((name, i): CachedImageLatents => ({ name, plain: read(`image.${i}`), ...(withFlipped ? { flipped: read(`image.${i}.flipped`) } : {}) }));
    const expectedTensors = names.length * (withFlipped ? 4 : 2);
    if (Object.keys(file.tensors).length !== expectedTensors) throw new LatentError(`the stored latent cache holds ${Object.keys(file.tensors).length} tensors, expected ${expectedTensors}`);
    return new LatentCache(images, shape, scalingFactor, 0);
  }

  get size(): number {
    return this.shape[0] * this.shape[1] * this.shape[2];
  }

  /** (mean + std * eps) * scaling_factor for image `index`, flipped or not; eps: standard normals of one sample. */
  sample(index: number, flipped: boolean, eps: Float32Array): Float32Array {
    const entry = this.images[index];
    if (!entry) throw new LatentError(`image index ${index} is outside the ${this.images.length} cached images`);
    const d = flipped ? entry.flipped : entry.plain;
    if (!d) throw new LatentError(`no flipped latents cached for ${entry.name}`);
    if (eps.length !== d.mean.length) throw new LatentError(`eps has ${eps.length} values, a latent sample ${d.mean.length}`);
    const out = new Float32Array(eps.length);
    const s = Math.fround(this.scalingFactor);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(d.mean[i]! + Math.fround(d.std[i]! * eps[i]!)) * s;
    return out;
  }
}
