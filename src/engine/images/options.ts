/** Limits and choices for training images, resolved once and validated on entry. */
import { ImageInputError } from "./errors.js";

export interface RgbColour {
  r: number;
  g: number;
  b: number;
}

export interface ImageLoadOptions {
  /** Side of the square the model trains on (from the VAE/UNet config), e.g. 512. */
  resolution: number;
  /** Shortest accepted side after orientation. Default resolution / 2 (at most 2x upscaling). */
  minSide?: number;
  /** Default 3: the product asks for 3-5 images. */
  minCount?: number;
  /** Default 10: the product asks for 3-5; a few more still load, and each costs one VAE encoding per job. */
  maxCount?: number;
  /** Largest accepted file. Default 25 MiB. */
  maxBytes?: number;
  /** Largest accepted width x height. Default 50 megapixels (a 48 MP phone photo fits). */
  maxPixels?: number;
  /**
   * Colour transparent pixels are composited onto. Default white: cut-out product shots
   * are meant to be seen on a light page, and diffusers' convert("RGB") would instead show
   * whatever colour happens to be stored under alpha 0 (often black).
   */
  background?: RgbColour;
  /** Also return each image mirrored left-right (for the flip augmentation). Default false. */
  withFlipped?: boolean;
  /** libvips' failOn: "warning" (default, sharp's advice for untrusted input) or "error". */
  failOn?: "warning" | "error";
}

export type ResolvedImageOptions = Required<ImageLoadOptions>;

/** The default image count limits (the API's request schema takes them from here). */
export const DEFAULT_MIN_IMAGES = 3;
export const DEFAULT_MAX_IMAGES = 10;

const WHITE: RgbColour = { r: 255, g: 255, b: 255 };

function positiveInteger(field: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ImageInputError("bad_option", `image option ${field} must be an integer in [1, ${max}], got ${String(value)}`);
  }
  return value;
}

export function resolveImageOptions(options: ImageLoadOptions): ResolvedImageOptions {
  const resolution = positiveInteger("resolution", options.resolution, 4096);
  const resolved: ResolvedImageOptions = {
    resolution,
    minSide: positiveInteger("minSide", options.minSide ?? Math.max(1, Math.floor(resolution / 2))),
    minCount: positiveInteger("minCount", options.minCount ?? DEFAULT_MIN_IMAGES),
    maxCount: positiveInteger("maxCount", options.maxCount ?? DEFAULT_MAX_IMAGES),
    maxBytes: positiveInteger("maxBytes", options.maxBytes ?? 25 * 1024 * 1024),
    maxPixels: positiveInteger("maxPixels", options.maxPixels ?? 50_000_000),
    background: options.background ?? WHITE,
    withFlipped: options.withFlipped ?? false,
    failOn: options.failOn ?? "warning",
  };
  if (resolved.minCount > resolved.maxCount) {
    throw new ImageInputError("bad_option", `image option minCount (${resolved.minCount}) exceeds maxCount (${resolved.maxCount})`);
  }
  for (const channel of ["r", "g", "b"] as const) {
    const v = resolved.background[channel];
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new ImageInputError("bad_option", `background.${channel} must be an integer in [0, 255], got ${String(v)}`);
  }
  if (resolved.failOn !== "warning" && resolved.failOn !== "error") {
    throw new ImageInputError("bad_option", `failOn must be "warning" or "error", got ${JSON.stringify(resolved.failOn)}`);
  }
  return resolved;
}

/** Count limits, checked before any image is decoded. */
export function checkImageCount(count: number, options: ResolvedImageOptions): void {
  if (count > options.maxCount) {
    throw new ImageInputError("too_many", `${count} images given; at most ${options.maxCount} are accepted (3-5 is the recommended set)`);
  }
  if (count < options.minCount) {
    throw new ImageInputError("too_few", `${count} image${count === 1 ? "" : "s"} given; at least ${options.minCount} are needed`);
  }
}
