import { describe, expect, it } from "vitest";
import { applyGuidance, needsUnconditional, SamplerError } from "../../../src/core/sampling/index.js";

describe("classifier-free guidance", () => {
  const uncond = Float32Array.of(0.5, -1.25, 3, 0.1);
  const cond = Float32Array.of(0.75, -1, 2, 0.3);

  it("is uncond + g (cond - uncond) (float64 formula, within float32 rounding)", () => {
    const out = applyGuidance(uncond, cond, 7.5);
    out.forEach((v, i) => expect(v).toBeCloseTo(uncond[i]! + 7.5 * (cond[i]! - uncond[i]!), 5));
    expect(Array.from(out.subarray(0, 3))).toEqual([2.375, 0.625, -4.5]); // exact in binary
    expect(uncond).toEqual(Float32Array.of(0.5, -1.25, 3, 0.1)); // inputs untouched
  });

  it("needs the unconditional pass only above 1 (diffusers' do_classifier_free_guidance)", () => {
    expect(needsUnconditional(1)).toBe(false);
    expect(needsUnconditional(1.0001)).toBe(true);
    expect(needsUnconditional(7.5)).toBe(true);
  });

  it("refuses scales below 1 or not finite, and mismatched outputs", () => {
    for (const g of [0.99, 0, -2, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => needsUnconditional(g)).toThrow(SamplerError);
      expect(() => applyGuidance(uncond, cond, g)).toThrow(/guidance scale must be a finite number >= 1/);
    }
    expect(() => applyGuidance(uncond, cond.subarray(1), 2)).toThrow(/unconditional output has 4 values, conditional 3/);
  });
});
