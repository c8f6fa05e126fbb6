/** Pixel layout conversions for the VAE encoder's input: pure, no image library. */

/** Interleaved 8-bit RGB (HWC) of a size x size image -> float32 CHW with v / 127.5 - 1, as diffusers scales. */
export function rgbToChw(rgb: Uint8Array, size: number): Float32Array {
  const plane = size * size;
  if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} RGB bytes for ${size}x${size}, got ${rgb.length}`);
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    out[i] = rgb[3 * i]! / 127.5 - 1;
    out[plane + i] = rgb[3 * i + 1]! / 127.5 - 1;
    out[2 * plane + i] = rgb[3 * i + 2]! / 127.5 - 1;
  }
  return out;
}

/** The same CHW image mirrored left-right (torchvision's RandomHorizontalFlip when it fires). */
export function flipHorizontalChw(chw: Float32Array, channels: number, height: number, width: number): Float32Array {
  if (chw.length !== channels * height * width) throw new RangeError(`expected ${channels * height * width} values, got ${chw.length}`);
  const out = new Float32Array(chw.length);
  for (let row = 0; row < channels * height; row++) {
    const base = row * width;
    for (let x = 0; x < width; x++) out[base + x] = chw[base + width - 1 - x]!;
  }
  return out;
}
