/**
 * Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11).
 *
 * A counter-based generator: each 128-bit counter maps to four independent 32-bit
 * words under a 64-bit key, with no hidden state. That is what makes inversion
 * slices resumable: a draw is a pure function of (seed, stream, step, index).
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9; // golden ratio
const PHILOX_W1 = 0xbb67ae85; // sqrt(3) - 1

/** 32x32 -> 64-bit multiply, split into [hi, lo] unsigned words. */
function mulhilo32(a: number, b: number): [number, number] {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const hihi = aHi * bHi;
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  const lo = ((mid << 16) | (lolo & 0xffff)) >>> 0;
  const hi = (hihi + (lohi >>> 16) + (hilo >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, lo];
}

/**
 * One Philox4x32-10 block: ten rounds over `counter` (4 words) with `key` (2 words).
 * Writes four uint32 words into `out` at `offset`.
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
  out: Uint32Array = new Uint32Array(4),
  offset = 0,
): Uint32Array {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo32(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo32(PHILOX_M1, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n1 = lo1;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    const n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[offset] = c0;
  out[offset + 1] = c1;
  out[offset + 2] = c2;
  out[offset + 3] = c3;
  return out;
}
