/**
 * Bicubic resizing of 8-bit RGB exactly as Pillow's Image.resize(..., BICUBIC) computes it
 * (libImaging/Resample.c), so that images reach the VAE as they do in diffusers'
 * textual_inversion.py. Pillow's method:
 *  1. For each output pixel, the source centre is (i + 0.5) * scale; the Catmull-Rom
 *     kernel (a = -0.5, support 2) is stretched by max(scale, 1), so downscaling low-passes.
 *  2. Taps run from int(centre - support + 0.5) to int(centre + support + 0.5), clipped to
 *     the image; weights are normalised to sum 1, then rounded to 22-bit fixed point.
 *  3. A horizontal pass (over only the rows the vertical pass reads) writes clipped 8-bit
 *     values; a vertical pass then does the same down the columns.
 * Pure code: no image library.
 */

const PRECISION_BITS = 22; // 32 - 8 - 2, as Pillow
const HALF = 2 ** (PRECISION_BITS - 1);
const ONE = 2 ** PRECISION_BITS;

/** Catmull-Rom cubic (a = -0.5), Pillow's bicubic_filter. */
function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

interface Taps {
  /** First source index per output pixel. */
  start: Int32Array;
  /** Number of taps per output pixel. */
  count: Int32Array;
  /** Fixed-point weights, `stride` per output pixel. */
  weights: Int32Array;
  stride: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const w = new Float64Array(stride);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const min = Math.max(Math.trunc(centre - support + 0.5), 0);
    const max = Math.min(Math.trunc(centre + support + 0.5), inSize) - min;
    let sum = 0;
    for (let k = 0; k < max; k++) {
      w[k] = bicubic((k + min - centre + 0.5) / filterScale);
      sum += w[k]!;
    }
    for (let k = 0; k < max; k++) {
      const normalised = sum !== 0 ? w[k]! / sum : w[k]!;
      weights[i * stride + k] = Math.trunc(normalised < 0 ? normalised * ONE - 0.5 : normalised * ONE + 0.5);
    }
    start[i] = min;
    count[i] = max;
  }
  return { start, count, weights, stride };
}

function clip8(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resizes interleaved RGB (width x height x 3) to outWidth x outHeight x 3. */
export function resizeBicubicRgb(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height * 3) throw new RangeError(`expected ${width * height * 3} RGB bytes for ${width}x${height}, got ${src.length}`);
  if (outWidth < 1 || outHeight < 1) throw new RangeError(`output size must be positive, got ${outWidth}x${outHeight}`);
  if (outWidth === width && outHeight === height) return src.slice(); // Pillow returns a copy
  const horizontal = taps(width, outWidth);
  const vertical = taps(height, outHeight);

  // Horizontal pass over the rows the vertical pass reads (Pillow's ybox_first..ybox_last).
  const needHorizontal = outWidth !== width;
  const firstRow = outHeight !== height ? vertical.start[0]! : 0;
  const lastRow = outHeight !== height ? vertical.start[outHeight - 1]! + vertical.count[outHeight - 1]! : height;
  let rows = src.subarray(firstRow * width * 3, lastRow * width * 3);
  let rowWidth = width;
  if (needHorizontal) {
    const tmp = new Uint8Array((lastRow - firstRow) * outWidth * 3);
    for (let y = 0; y < lastRow - firstRow; y++) {
      const inRow = y * width * 3;
      const outRow = y * outWidth * 3;
      for (let x = 0; x < outWidth; x++) {
        const s = horizontal.start[x]!;
        const n = horizontal.count[x]!;
        const k = x * horizontal.stride;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let t = 0; t < n; t++) {
          const weight = horizontal.weights[k + t]!;
          const p = inRow + (s + t) * 3;
          r += rows[p]! * weight;
          g += rows[p + 1]! * weight;
          b += rows[p + 2]! * weight;
        }
        tmp[outRow + x * 3] = clip8(r);
        tmp[outRow + x * 3 + 1] = clip8(g);
        tmp[outRow + x * 3 + 2] = clip8(b);
      }
    }
    rows = tmp;
    rowWidth = outWidth;
  }
  if (outHeight === height) return rows === src ? src.slice() : Uint8Array.from(rows);

  const out = new Uint8Array(outWidth * outHeight * 3);
  for (let y = 0; y < outHeight; y++) {
    const s = vertical.start[y]! - firstRow;
    const n = vertical.count[y]!;
    const k = y * vertical.stride;
    for (let x = 0; x < rowWidth; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let t = 0; t < n; t++) {
        const weight = vertical.weights[k + t]!;
        const p = ((s + t) * rowWidth + x) * 3;
        r += rows[p]! * weight;
        g += rows[p + 1]! * weight;
        b += rows[p + 2]! * weight;
      }
      const o = (y * outWidth + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** The centred square diffusers' --center_crop keeps: offsets (w - s) // 2 and (h - s) // 2. */
export function centreSquare(width: number, height: number): { left: number; top: number; side: number } {
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), side };
}
