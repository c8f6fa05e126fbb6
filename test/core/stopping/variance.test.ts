import { describe, expect, it } from "vitest";
import { normals } from "../../../src/core/rng/stream.js";
import { addToMoments, EMPTY_MOMENTS, momentsVariance, twoPassVariance } from "../../../src/core/stopping/variance.js";

/** Reference: textbook two-pass population variance in float64, no compensation. */
function plainTwoPass(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  const m = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i]! - m) ** 2;
  return sq / values.length;
}

describe("running variance", () => {
  it("stays within 1e-11 (L_det-like) and 1e-8 (offset 1e4) of a float64 two-pass variance over 10^5 values", () => {
    // L_det-like values: mean 0.12, a decaying part, and noise of 1e-4; then the same shifted to 1e4.
    const noise = normals({ seed: 5, stream: 100, step: 0 }, 100_000);
    // At offset 1e4 the noise keeps only ~8 digits in a double, so the reference itself is good to ~1e-9.
    for (const [offset, tolerance] of [[0.12, 1e-11], [1e4, 1e-8]] as const) {
      const values = Array.from(noise, (z, i) => offset + 0.05 * Math.exp(-i / 3000) + 1e-4 * z);
      let moments = EMPTY_MOMENTS;
      let checked = 0;
      for (let i = 0; i < values.length; i++) {
        moments = addToMoments(moments, values[i]!);
        if ((i + 1) % 25_000 === 0) {
          const reference = plainTwoPass(values.slice(0, i + 1));
          expect(Math.abs(momentsVariance(moments) - reference) / reference).toBeLessThan(tolerance);
          checked++;
        }
      }
      expect(checked).toBe(4);
    }
  });

  it("naive sum of squares would not be accurate on the same data (why Welford is used)", () => {
    const noise = normals({ seed: 5, stream: 100, step: 0 }, 100_000);
    const values = Array.from(noise, (z) => 1e6 + 1e-3 * z);
    let s = 0;
    let s2 = 0;
    for (const v of values) {
      s += v;
      s2 += v * v;
    }
    const naive = s2 / values.length - (s / values.length) ** 2;
    const reference = plainTwoPass(values);
    let moments = EMPTY_MOMENTS;
    for (const v of values) moments = addToMoments(moments, v);
    expect(Math.abs(naive - reference) / reference).toBeGreaterThan(1);
    expect(Math.abs(momentsVariance(moments) - reference) / reference).toBeLessThan(1e-6);
  });

  it("twoPassVariance agrees with the textbook formula and handles edge cases", () => {
    expect(twoPassVariance([1, 2, 3, 4])).toBeCloseTo(1.25, 15);
    expect(twoPassVariance([7])).toBe(0);
    expect(twoPassVariance([])).toBeNaN();
    expect(momentsVariance(EMPTY_MOMENTS)).toBeNaN();
  });
});
