/** Test images generated with sharp from raw pixels, so every expected pixel is known. */
import sharp, { type Sharp } from "sharp";

/** A width x height RGB image whose pixel (x, y) is colour(x, y). */
export function rawRgb(width: number, height: number, colour: (x: number, y: number) => [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colour(x, y), 3 * (y * width + x));
  }
  return data;
}

export function rawRgba(width: number, height: number, colour: (x: number, y: number) => [number, number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colour(x, y), 4 * (y * width + x));
  }
  return data;
}

export function fromRaw(data: Buffer, width: number, height: number, channels: 3 | 4 = 3): Sharp {
  return sharp(data, { raw: { width, height, channels } });
}

export const RED: [number, number, number] = [255, 0, 0];
export const GREEN: [number, number, number] = [0, 255, 0];
export const BLUE: [number, number, number] = [0, 0, 255];

/** Value of channel c at (x, y) of a CHW image of side `size`. */
export function at(chw: Float32Array, size: number, c: number, x: number, y: number): number {
  return chw[c * size * size + y * size + x]!;
}
