import { describe, expect, it } from "vitest";
import { ADAMW_DEFAULTS, createAdamW } from "../../../src/core/optim/adamw.js";
import type { GradientFn, OptimizerState } from "../../../src/core/optim/optimizer.js";
import { OptimizerConfigError, OptimizerInputError } from "../../../src/core/optim/validate.js";
import { firstMismatch } from "../../helpers/float32.js";
import { lossAt, torchInfo, torchRun } from "./trajectories.js";

// Tolerance: none. torch 1.13's CPU float32 kernels (single-tensor AdamW) round every
// operation once, and AdamW here reproduces each rounding (fused multiply-adds included),
// so parameters and both moment buffers must be bit-identical for all 300 steps.
describe("AdamW against torch.optim.AdamW trajectories", () => {
  for (const name of ["adamw_default", "adamw_custom"]) {
    it(`${name}: replaying torch's gradients reproduces its parameters and moments bit for bit`, async () => {
      const run = torchRun(name);
      const { lr, beta1, beta2, eps, weightDecay } = run.config as Record<string, number>;
      const optimizer = createAdamW({ beta1: beta1!, beta2: beta2!, eps: eps!, weightDecay: weightDecay! });
      let params = run.row("params", 0);
      let state = optimizer.init(run.size);
      for (let s = 0; s < run.steps; s++) {
        const gradFn: GradientFn = async () => ({ loss: lossAt(name, s), grad: run.row("grad", s) });
        const result = await optimizer.step(params, state, gradFn, lr!);
        expect(result.loss).toBe(lossAt(name, s));
        expect(firstMismatch(result.params, run.row("params", s + 1)), `params after step ${s + 1}`).toBeNull();
        params = result.params;
        state = result.state;
        const recorded = run.stateSteps.indexOf(s + 1);
        if (recorded >= 0) {
          expect(state.step).toBe(s + 1);
          expect(firstMismatch(state.buffers.exp_avg!, run.row("exp_avg", recorded)), `exp_avg at ${s + 1}`).toBeNull();
          expect(firstMismatch(state.buffers.exp_avg_sq!, run.row("exp_avg_sq", recorded)), `exp_avg_sq at ${s + 1}`).toBeNull();
        }
      }
      expect(run.steps).toBeGreaterThanOrEqual(300);
      expect(torchInfo.torch).toMatch(/^1\.13/);
    });
  }
});

const gradientOf = (values: number[]): GradientFn => async (params) => ({
  loss: params.reduce((a, b) => a + b, 0),
  grad: Float32Array.from(values),
});

describe("AdamW state and inputs", () => {
  it("does not mutate its inputs and returns fresh arrays", async () => {
    const optimizer = createAdamW();
    const params = Float32Array.from([0.5, -1, 2]);
    const first = await optimizer.step(params, optimizer.init(3), gradientOf([1, 2, 3]), 0.01);
    const snapshot = structuredClone({ params, state: first.state });
    const second = await optimizer.step(params, first.state, gradientOf([-1, 0.5, 0.25]), 0.01);
    expect(params).toEqual(snapshot.params);
    expect(first.state).toEqual(snapshot.state);
    expect(second.params).not.toBe(params);
    expect(second.state.buffers.exp_avg).not.toBe(first.state.buffers.exp_avg);
    expect(second.state.step).toBe(2);
  });

  it("continues identically from a state copied as plain data (JSON)", async () => {
    const optimizer = createAdamW();
    const grads = Array.from({ length: 20 }, (_, s) => [Math.sin(s), Math.cos(s), 0.1 * s]);
    let params: Float32Array = Float32Array.from([0.1, 0.2, 0.3]);
    let state = optimizer.init(3);
    let copyParams: Float32Array = params;
    let copyState: OptimizerState = state;
    for (let s = 0; s < grads.length; s++) {
      ({ params, state } = await optimizer.step(params, state, gradientOf(grads[s]!), 5e-3));
      if (s === 9) {
        const json = JSON.stringify({ step: state.step, buffers: Object.fromEntries(Object.entries(state.buffers).map(([k, v]) => [k, Array.from(v)])) });
        const plain = JSON.parse(json) as { step: number; buffers: Record<string, number[]> };
        copyState = { step: plain.step, buffers: Object.fromEntries(Object.entries(plain.buffers).map(([k, v]) => [k, Float32Array.from(v)])) };
        copyParams = Float32Array.from(params);
      } else if (s > 9) {
        ({ params: copyParams, state: copyState } = await optimizer.step(copyParams, copyState, gradientOf(grads[s]!), 5e-3));
      }
    }
    expect(copyParams).toEqual(params);
    expect(copyState).toEqual(state);
  });

  it("has PyTorch's defaults", () => {
    expect(ADAMW_DEFAULTS).toEqual({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 });
  });

  it("refuses bad hyper-parameters and learning rates with a clear error", async () => {
    expect(() => createAdamW({ beta1: 1 })).toThrow(/adamw: beta1 must be a finite number in \[0, 1\), got 1/);
    expect(() => createAdamW({ beta2: -0.1 })).toThrow(OptimizerConfigError);
    expect(() => createAdamW({ beta2: Number.NaN })).toThrow(/beta2/);
    expect(() => createAdamW({ eps: -1e-8 })).toThrow(/eps/);
    expect(() => createAdamW({ weightDecay: -0.01 })).toThrow(/weightDecay/);
    const optimizer = createAdamW();
    await expect(optimizer.step(new Float32Array(2), optimizer.init(2), gradientOf([1, 1]), -1e-3)).rejects.toThrow(
      /adamw: learning rate must be a finite number in \[0, Infinity\), got -0.001/,
    );
  });

  it("refuses mismatched state and gradients", async () => {
    const optimizer = createAdamW();
    await expect(optimizer.step(new Float32Array(3), optimizer.init(2), gradientOf([1, 1, 1]), 1e-3)).rejects.toThrow(OptimizerInputError);
    await expect(optimizer.step(new Float32Array(2), optimizer.init(2), gradientOf([1, 1, 1]), 1e-3)).rejects.toThrow(
      /gradient must be a Float32Array of 2 values, got 3 values/,
    );
    await expect(optimizer.step(new Float32Array(2), { step: 0, buffers: {} }, gradientOf([1, 1]), 1e-3)).rejects.toThrow(
      /state buffer 'exp_avg' is missing/,
    );
  });
});
