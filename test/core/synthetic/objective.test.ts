import { describe, expect, it } from "vitest";
import {
  createSyntheticObjective,
  describeSynthetic,
  SYNTHETIC_DEFAULTS,
  syntheticSettingsFrom,
} from "../../../src/core/synthetic/objective.js";

describe("synthetic objective", () => {
  const objective = createSyntheticObjective(11);
  const params = objective.initialParams();

  it("has an analytic gradient that matches central finite differences (relative 1e-5)", async () => {
    for (const step of [0, 7, 123]) {
      const { grad } = await objective.trainLossAndGradient(step, params);
      for (let i = 0; i < objective.size; i++) {
        const h = 2 ** -8;
        const plus = params.slice();
        const minus = params.slice();
        plus[i] = params[i]! + h;
        minus[i] = params[i]! - h;
        const lp = (await objective.trainLossAndGradient(step, plus)).loss;
        const lm = (await objective.trainLossAndGradient(step, minus)).loss;
        // The loss is quadratic in each parameter, so the central difference is exact up to rounding.
        const fd = (lp - lm) / (plus[i]! - minus[i]!);
        expect(Math.abs(grad[i]! - fd)).toBeLessThanOrEqual(1e-5 * Math.abs(fd) + 1e-9);
      }
    }
  });

  it("is a pure function of (seed, step, params)", async () => {
    const a = await objective.trainLossAndGradient(42, params);
    const b = await createSyntheticObjective(11).trainLossAndGradient(42, params);
    const other = await objective.trainLossAndGradient(43, params);
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad)).toEqual(Array.from(a.grad));
    expect(other.loss).not.toBe(a.loss);
    expect(await objective.evalLoss(params)).toBe(await objective.evalLoss(params));
    expect(Array.from(createSyntheticObjective(12).initialParams())).not.toEqual(Array.from(params));
  });

  it("moves far more with the timestep draw than with the parameters (the paper's Figure 1 regime)", async () => {
    const target = Float32Array.from(objective.target);
    const losses: number[] = [];
    for (let step = 0; step < 400; step++) losses.push((await objective.trainLossAndGradient(step, params)).loss);
    const m = losses.reduce((a, b) => a + b) / losses.length;
    const std = Math.sqrt(losses.reduce((a, b) => a + (b - m) ** 2, 0) / losses.length);
    const gain = (await objective.evalLoss(params)) - (await objective.evalLoss(target));
    expect(gain).toBeGreaterThan(0); // the parameters do matter ...
    expect(std).toBeGreaterThan(3 * gain); // ... but step-to-step noise is several times larger
  });

  it("refuses parameters of the wrong size", async () => {
    await expect(objective.evalLoss(new Float32Array(3))).rejects.toThrow(/takes 32 parameters/);
  });

  it("describes its settings for a run config and reads them back", () => {
    const settings = { ...SYNTHETIC_DEFAULTS, dim: 8, sigma: 1 };
    expect(syntheticSettingsFrom(describeSynthetic(settings))).toEqual(settings);
    expect(() => syntheticSettingsFrom({ kind: "sd15" })).toThrow(/not "synthetic"/);
    const { sigma: _dropped, ...partial } = describeSynthetic();
    expect(() => syntheticSettingsFrom(partial)).toThrow(/'sigma' is missing/);
  });
});
