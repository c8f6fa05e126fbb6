import { describe, expect, it } from "vitest";
import {
  createCriterion,
  CRITERION_PRESETS,
  InvalidCriterionSpecError,
  parseCriterionSpec,
  type StoppingCriterion,
} from "../../../src/core/stopping/index.js";
import { leastSquaresSlope } from "../../../src/core/stopping/trend.js";

function run(criterion: StoppingCriterion, values: readonly number[]) {
  let state = criterion.init();
  const out: Array<{ value: number | null; stop: boolean }> = [];
  values.forEach((v, i) => {
    const d = criterion.observe(state, i + 1, v);
    state = criterion.parseState(JSON.parse(JSON.stringify(d.state))); // states survive JSON
    out.push({ value: d.value, stop: d.stop });
  });
  return out;
}

describe("fixed steps", () => {
  it("stops exactly at the given step and reports the steps left", () => {
    const out = run(createCriterion({ name: "fixed", steps: 3 }), [NaN, NaN, NaN]);
    expect(out.map((o) => o.stop)).toEqual([false, false, true]);
    expect(out.map((o) => o.value)).toEqual([2, 1, 0]);
    expect(CRITERION_PRESETS.fixed.steps).toBe(6100);
  });
});

describe("EMA percentile (Appendix B)", () => {
  it("computes (EMA(t) - EMA(t-n)) / EMA(t-n) with EMA alpha 0.1 started at the first value", () => {
    const values = [10, 20, 30, 30, 30];
    const out = run(createCriterion({ name: "ema", window: 2, alpha: 0.1, threshold: 0.01 }), values);
    // EMA by hand: 10, 11, 12.9, 14.61, 16.149
    expect(out[0]!.value).toBeNull();
    expect(out[1]!.value).toBeNull();
    expect(out[2]!.value).toBeCloseTo((12.9 - 10) / 10, 12);
    expect(out[4]!.value).toBeCloseTo((16.149 - 12.9) / 12.9, 12);
    expect(out.some((o) => o.stop)).toBe(false);
  });

  it("stops once the relative EMA change falls below the threshold", () => {
    const values = Array.from({ length: 400 }, (_, i) => 1 + Math.exp(-i / 20));
    const out = run(createCriterion({ name: "ema", window: 10, threshold: 0.001 }), values);
    const first = out.findIndex((o) => o.stop);
    expect(first).toBeGreaterThan(10);
    expect(Math.abs(out[first]!.value!)).toBeLessThan(0.001);
    expect(Math.abs(out[first - 1]!.value!)).toBeGreaterThanOrEqual(0.001);
  });
});

describe("Hall (Appendix B)", () => {
  it("is (rolling max - rolling min) / rolling mean over the last n values", () => {
    const out = run(createCriterion({ name: "hall", window: 3, threshold: 0.1 }), [5, 1, 2, 3, 2.9, 3.0, 3.05]);
    expect(out[1]!.value).toBeNull();
    expect(out[2]!.value).toBeCloseTo((5 - 1) / (8 / 3), 12);
    expect(out[3]!.value).toBeCloseTo((3 - 1) / 2, 12);
    expect(out[6]!.value).toBeCloseTo((3.05 - 2.9) / ((2.9 + 3.0 + 3.05) / 3), 12);
    // [3, 2.9, 3.0] is the first window within 10% of its mean.
    expect(out.map((o) => o.stop)).toEqual([false, false, false, false, false, true, true]);
  });
});

describe("Trend (Appendix B)", () => {
  it("is the exact least-squares slope over the window", () => {
    expect(leastSquaresSlope([1, 3, 5, 7])).toBeCloseTo(2, 14);
    // Against the normal equations solved by hand for y = [2, 1, 4, 3]: slope = 0.6.
    expect(leastSquaresSlope([2, 1, 4, 3])).toBeCloseTo(0.6, 14);
  });

  it("stops when |slope| over the last n values drops below the threshold", () => {
    const values = [...Array.from({ length: 20 }, (_, i) => 10 - i), ...Array(10).fill(-9)];
    const out = run(createCriterion({ name: "trend", window: 5, threshold: 0.01 }), values);
    expect(out[4]!.value).toBeCloseTo(-1, 12);
    const first = out.findIndex((o) => o.stop);
    expect(first).toBe(23); // values 19..23 are the first window all at -9
  });
});

describe("patience on an external score (CLIP-s)", () => {
  it("stops after P consecutive evaluations that do not beat the best by more than eps", () => {
    const c = createCriterion({ name: "patience", eps: 0.05, patience: 3 });
    // 0.50 best; 0.54 (no: not > 0.55); 0.60 improves; then 0.64, 0.65, 0.61 fail three times.
    const out = run(c, [0.5, 0.54, 0.6, 0.64, 0.65, 0.61]);
    expect(out.map((o) => o.value)).toEqual([0, 1, 0, 1, 2, 3]);
    expect(out.map((o) => o.stop)).toEqual([false, false, false, false, false, true]);
    expect(c.every).toBe(50);
    expect(c.signal).toBe("score");
  });

  it("mode min improves downwards", () => {
    const out = run(createCriterion({ name: "patience", eps: 0.1, patience: 1, mode: "min" }), [1, 0.8, 0.75]);
    expect(out.map((o) => o.stop)).toEqual([false, false, true]);
  });
});

describe("criterion specs", () => {
  it("fill defaults and reject bad or unknown fields with a message naming them", () => {
    expect(parseCriterionSpec({ name: "hall" })).toEqual(CRITERION_PRESETS.hall);
    expect(() => parseCriterionSpec({ name: "dvar", threshold: 1.5 })).toThrow(InvalidCriterionSpecError);
    expect(() => parseCriterionSpec({ name: "dvar", threshold: 1.5 })).toThrow(/threshold/);
    expect(() => parseCriterionSpec({ name: "dvar", windw: 10 })).toThrow(/windw/);
    expect(() => parseCriterionSpec({ name: "nope" })).toThrow(InvalidCriterionSpecError);
    expect(() => parseCriterionSpec({ name: "fixed" })).toThrow(/steps/);
  });

  it("every rule declares what it watches", () => {
    const signals = Object.values(CRITERION_PRESETS).map((s) => [s.name, createCriterion(s).signal]);
    expect(signals).toEqual([
      ["dvar", "ldet"],
      ["dvar", "ldet"],
      ["dvar", "ldet"],
      ["fixed", "none"],
      ["ema", "ldet"],
      ["hall", "ldet"],
      ["trend", "ldet"],
      ["patience", "score"],
    ]);
  });
});
