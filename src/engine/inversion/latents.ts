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
 */
import type { TrainingImage } from "../images/index.js";

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
    /** VAE encoder runs made to build the cache (one per image and flip). */
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
