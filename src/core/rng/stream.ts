import { philox4x32 } from "./philox.js";

/**
 * Where a draw lives in the job's random space. Every random quantity of an
 * inversion is addressed as (seed, stream, step, index), so what step s samples
 * never depends on how many slices ran before it.
 */
export interface DrawAddress {
  /** Job seed: any non-negative integer below 2^53. */
  seed: number;
  /** What is being drawn (see `RngStream`); keeps sources independent. */
  stream: number;
  /** Optimisation step (or 0 for draws made once at the start). */
  step: number;
}

/** Named streams, so that resampling one source never shifts another (paper, section 4.4). */
export const RngStream = {
  image: 1,
  caption: 2,
  flip: 3,
  latentSample: 4,
  timestep: 5,
  noise: 6,
  evalBatch: 7,
  init: 8,
  synthetic: 9,
  generation: 10,
  // The semi-deterministic ablation (paper, section 4.4): one source of the evaluation
  // batch redrawn at every step, from streams no training batch reads.
  resampledTimestep: 11,
  resampledNoise: 12,
  resampledLatent: 13,
  resampledImage: 14,
  resampledCaption: 15,
} as const;
export type RngStreamName = keyof typeof RngStream;

const TWO_POW_32 = 4294967296;

function keyOf(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  }
  return [seed % TWO_POW_32 >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/**
 * `count` uint32 words at (address, index 0..count-1). Counter layout:
 * [block index, step, stream, 0], key = the 64-bit seed.
 */
export function uint32s(address: DrawAddress, count: number): Uint32Array {
  const key = keyOf(address.seed);
  const blocks = Math.ceil(count / 4);
  const words = new Uint32Array(blocks * 4);
  for (let b = 0; b < blocks; b++) {
    philox4x32([b, address.step >>> 0, address.stream >>> 0, 0], key, words, b * 4);
  }
  return count === words.length ? words : words.slice(0, count);
}

/** Uniform floats in (0, 1), 53-bit resolution: two words per value. Never 0, so log() is safe. */
export function uniforms(address: DrawAddress, count: number): Float64Array {
  const words = uint32s(address, count * 2);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const hi = words[2 * i]! >>> 5; // 27 bits
    const lo = words[2 * i + 1]! >>> 6; // 26 bits
    out[i] = (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
  return out;
}

/** Standard normals by Box-Muller: each pair of uniforms gives two values. */
export function normals(address: DrawAddress, count: number): Float64Array {
  const pairs = Math.ceil(count / 2);
  const u = uniforms(address, pairs * 2);
  const out = new Float64Array(count);
  for (let p = 0; p < pairs; p++) {
    const radius = Math.sqrt(-2 * Math.log(u[2 * p]!));
    const angle = 2 * Math.PI * u[2 * p + 1]!;
    out[2 * p] = radius * Math.cos(angle);
    if (2 * p + 1 < count) out[2 * p + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Standard normals as float32, the dtype the models take. */
export function normalsF32(address: DrawAddress, count: number): Float32Array {
  return Float32Array.from(normals(address, count));
}

/** Integers uniform in [0, n) without modulo bias (Lemire-style rejection-free via 53-bit float). */
export function integers(address: DrawAddress, count: number, n: number): Int32Array {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`n must be a positive integer, got ${n}`);
  const u = uniforms(address, count);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.min(n - 1, Math.floor(u[i]! * n));
  return out;
}

/** A permutation of 0..n-1 (Fisher-Yates driven by the address). */
export function permutation(address: DrawAddress, n: number): Int32Array {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const u = uniforms(address, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(u[i]! * (i + 1)));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}
