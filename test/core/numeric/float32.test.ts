import { describe, expect, it } from "vitest";
import { fmaF32 } from "../../../src/core/numeric/float32.js";
import { uniforms } from "../../../src/core/rng/stream.js";

// Independent reference: a * b + c as an exact integer multiple of 2^-298 (every float32
// is a multiple of 2^-149), then the nearest float32 by exact BigInt comparison, ties to
// the even significand.
const SCALE = 2 ** 298;
const exactUnits = (x: number): bigint => BigInt(x * 2 ** 149);

function nextFloat32(x: number, direction: 1 | -1): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  if (x === 0) return direction * 2 ** -149;
  const bits = view.getInt32(0);
  view.setInt32(0, bits + (Math.sign(x) === direction ? 1 : -1));
  return view.getFloat32(0);
}

function referenceFma(a: number, b: number, c: number): number {
  const exact = exactUnits(a) * exactUnits(b) + exactUnits(c) * 2n ** 149n;
  const guess = Math.fround(Number(exact) / SCALE);
  const candidates = [nextFloat32(guess, -1), guess, nextFloat32(guess, 1)];
  let best = candidates[0]!;
  let bestDistance: bigint | null = null;
  for (const candidate of candidates) {
    const diff = BigInt(candidate * SCALE) - exact;
    const distance = diff < 0n ? -diff : diff;
    const evenSignificand = (new Uint32Array(new Float32Array([candidate]).buffer)[0]! & 1) === 0;
    if (bestDistance === null || distance < bestDistance || (distance === bestDistance && evenSignificand)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

describe("fmaF32", () => {
  it("rounds exact halfway cases by the sign of the part float64 loses", () => {
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: exactly halfway between two float32 values.
    const a = Math.fround(1 + 2 ** -12);
    const up = fmaF32(a, a, 2 ** -80);
    const down = fmaF32(a, a, -(2 ** -80));
    expect(up).toBe(1 + 2 ** -11 + 2 ** -23);
    expect(down).toBe(1 + 2 ** -11);
    // The naive float64 route rounds both to the even neighbour:
    expect(Math.fround(a * a + 2 ** -80)).toBe(1 + 2 ** -11);
    expect(up).toBe(referenceFma(a, a, 2 ** -80));
    expect(down).toBe(referenceFma(a, a, -(2 ** -80)));
  });

  it("agrees with an exact BigInt reference on 20,000 random float32 triples", () => {
    const u = uniforms({ seed: 7, stream: 1, step: 0 }, 6 * 20_000);
    const value = (i: number) => Math.fround((u[i]! - 0.5) * 2 ** Math.floor(u[i + 1]! * 40 - 20));
    let mismatches = 0;
    for (let k = 0; k < 20_000; k++) {
      const [a, b, c] = [value(6 * k), value(6 * k + 2), value(6 * k + 4)];
      if (!Object.is(fmaF32(a, b, c), referenceFma(a, b, c))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("agrees with the reference on products that land on or near float32 midpoints", () => {
    const u = uniforms({ seed: 8, stream: 1, step: 0 }, 3 * 5_000);
    let mismatches = 0;
    for (let k = 0; k < 5_000; k++) {
      const a = Math.fround(1 + Math.floor(u[3 * k]! * 4096) * 2 ** -12);
      const b = Math.fround(1 + Math.floor(u[3 * k + 1]! * 4096) * 2 ** -12);
      const c = Math.fround((u[3 * k + 2]! - 0.5) * 2 ** -60);
      if (!Object.is(fmaF32(a, b, c), referenceFma(a, b, c))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("is exact where a separate multiply and add would round twice", () => {
    const a = Math.fround(0.1);
    const b = Math.fround(3.3);
    const c = Math.fround(-0.33);
    expect(fmaF32(a, b, c)).toBe(referenceFma(a, b, c));
    expect(fmaF32(a, b, c)).not.toBe(Math.fround(Math.fround(a * b) + c));
  });
});
