/**
 * One training image, from encoded bytes to the model's input: decode (JPEG, PNG, WebP
 * only) with sharp, apply the EXIF orientation, flatten alpha onto the background,
 * centre-crop the largest square, resize it to the model resolution with Pillow's bicubic
 * (bit-exact, ./resample.ts), and scale to float32 CHW in [-1, 1].
 *
 * That is diffusers' textual_inversion.py with --center_crop: crop rows/columns
 * (h - s) // 2 .. (h + s) // 2, resize the square with PIL BICUBIC, v / 127.5 - 1.
 * Cropping first equals resizing the shorter side and cropping, without rounding the
 * crop box twice. One difference remains: libvips converts an embedded ICC profile to
 * sRGB, where PIL ignores it.
 */
import sharp, { type Metadata } from "sharp";
import { ImageInputError } from "./errors.js";
import type { ResolvedImageOptions } from "./options.js";
import { centreSquare, resizeBicubicRgb } from "./resample.js";
import { flipHorizontalChw, rgbToChw } from "./tensor.js";

export type TrainingImageFormat = "jpeg" | "png" | "webp";

export interface TrainingImage {
  /** The file path or upload name it came from. */
  name: string;
  format: TrainingImageFormat;
  /** Size after EXIF orientation, before cropping. */
  width: number;
  height: number;
  /** [3, resolution, resolution], row-major, values in [-1, 1]. */
  pixels: Float32Array;
  /** The same, mirrored left-right; present when options.withFlipped. */
  flipped?: Float32Array;
}

const FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "webp"]);

/** Orientations 5-8 rotate by 90 degrees: width and height trade places. */
function orientedSize(width: number, height: number, orientation: number | undefined): [number, number] {
  return orientation !== undefined && orientation >= 5 && orientation <= 8 ? [height, width] : [width, height];
}

function unreadable(name: string, error: unknown): ImageInputError {
  const reason = (error as Error).message?.split("\n")[0] ?? String(error);
  return new ImageInputError("unreadable", `cannot decode the image (${reason})`, name);
}

/** What an image's header says, once it passed every check that needs no pixels. */
interface CheckedHeader {
  format: TrainingImageFormat;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
}

/**
 * The checks that read only the header: byte size, a decodable header, the format, the
 * pixel count (so a 50-megapixel image is refused before its pixels are decoded) and the
 * shorter side.
 */
async function checkHeader(name: string, bytes: Uint8Array, options: ResolvedImageOptions): Promise<CheckedHeader> {
  if (bytes.length > options.maxBytes) {
    throw new ImageInputError("too_large_bytes", `${bytes.length} bytes exceeds the limit of ${options.maxBytes}`, name);
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { failOn: options.failOn, limitInputPixels: false }).metadata();
  } catch (error) {
    throw unreadable(name, error);
  }
  if (!FORMATS.has(metadata.format)) {
    throw new ImageInputError("unsupported_format", `${metadata.format} images are not accepted; use JPEG, PNG or WebP`, name);
  }
  if (metadata.width * metadata.height > options.maxPixels) {
    throw new ImageInputError(
      "too_large_pixels",
      `${metadata.width}x${metadata.height} is ${metadata.width * metadata.height} pixels, over the limit of ${options.maxPixels}`,
      name,
    );
  }
  const [width, height] = orientedSize(metadata.width, metadata.height, metadata.orientation);
  if (Math.min(width, height) < options.minSide) {
    throw new ImageInputError("too_small", `${width}x${height} is too small: the shorter side must be at least ${options.minSide} pixels`, name);
  }
  return { format: metadata.format as TrainingImageFormat, width, height };
}

/**
 * Every check prepareTrainingImage makes, without building the tensor: the header checks,
 * then one full decode (a truncated or corrupt file fails there). For refusing inputs
 * early (when a job is created) at the cost of a decode, not of a resize.
 */
export async function inspectTrainingImage(name: string, bytes: Uint8Array, options: ResolvedImageOptions): Promise<CheckedHeader> {
  const header = await checkHeader(name, bytes, options);
  try {
    await sharp(bytes, { failOn: options.failOn, limitInputPixels: options.maxPixels }).stats();
  } catch (error) {
    throw unreadable(name, error);
  }
  return header;
}

export async function prepareTrainingImage(name: string, bytes: Uint8Array, options: ResolvedImageOptions): Promise<TrainingImage> {
  const { format, width, height } = await checkHeader(name, bytes, options);
  const input = { failOn: options.failOn, limitInputPixels: options.maxPixels } as const;

  const size = options.resolution;
  const { left, top, side } = centreSquare(width, height);
  let square: Uint8Array;
  try {
    // Input-level autoOrient makes the extract box refer to the upright image.
    const upright = await sharp(bytes, { ...input, autoOrient: true })
      .flatten({ background: options.background })
      .toColourspace("srgb")
      .removeAlpha()
      .extract({ left, top, width: side, height: side })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (upright.info.channels !== 3 || upright.info.width !== side || upright.info.height !== side) {
      throw new Error(`decoded to ${upright.info.width}x${upright.info.height}x${upright.info.channels}, expected ${side}x${side}x3`);
    }
    square = new Uint8Array(upright.data.buffer, upright.data.byteOffset, upright.data.length);
  } catch (error) {
    throw unreadable(name, error);
  }
  const rgb = resizeBicubicRgb(square, side, side, size, size);

  const pixels = rgbToChw(rgb, size);
  const image: TrainingImage = { name, format, width, height, pixels };
  if (options.withFlipped) image.flipped = flipHorizontalChw(pixels, 3, size, size);
  return image;
}
