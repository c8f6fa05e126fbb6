import { describe, expect, it } from "vitest";
import type { GradientFn, OptimizerState } from "../../../src/core/optim/optimizer.js";
import { createSam, perturbedParams, SAM_DEFAULTS } from "../../../src/core/optim/sam.js";
import { OptimizerConfigError } from "../../../src/core/optim/validate.js";
import { firstMismatch, ulpOf } from "../../helpers/float32.js";
import { lossAt, torchRun } from "./trajectories.js";

// Tolerances. The SGD-momentum update given g2 is bit-exact (no tolerance): torch 1.13's
// CPU float32 kernels round once per operation and sam.ts reproduces each rounding.
// The ascent point w + e is not: ||g1|| is accumulated in float64 here but in 8 float32
// lanes by torch, and torch computes rho / n as reciprocal(n) * rho, so e differs by a
// few ulps of e, and the sum w + e may then round the other way. Allowed per element:
//   |(w + e)_ours - (w + e)_torch| <= 4 * (ulp(w + e) + ulp(e))   (measured worst: 3.0)
const PERTURBED_TOLERANCE = 4;

function worstPerturbedError(ours: Float32Array, torch: Float32Array, w: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < ours.length; i++) {
    const scale = ulpOf(torch[i]!) + ulpOf(torch[i]! - w[i]!);
    worst = Math.max(worst, Math.abs(ours[i]! - torch[i]!) / scale);
  }
  return worst;
}

describe("SAM against a torch SAM over torch.optim.SGD(momentum)", () => {
  for (const name of ["sam_default", "sam_decay"]) {
    it(`${name}: evaluates where torch did and reproduces its parameters and momentum`, async () => {
      const run = torchRun(name);
      const { lr, rho, momentum, weightDecay } = run.config as Record<string, number>;
      const optimizer = createSam({ rho: rho!, momentum: momentum!, weightDecay: weightDecay! });
      expect(optimizer.evaluationsPerStep).toBe(2);
      let params = run.row("params", 0);
      let state = optimizer.init(run.size);
      let worstPerturbed = 0;
      let exactPerturbedSteps = 0;
      for (let s = 0; s < run.steps; s++) {
        const asked: Float32Array[] = [];
        const gradFn: GradientFn = async (at) => {
          asked.push(Float32Array.from(at));
          return asked.length === 1
            ? { loss: lossAt(name, s), grad: run.row("grad1", s) }
            : { loss: Number.NaN, grad: run.row("grad2", s) };
        };
        const result = await optimizer.step(params, state, gradFn, lr!);
        expect(asked.length).toBe(2);
        expect(firstMismatch(asked[0]!, run.row("params", s)), `first evaluation at step ${s}`).toBeNull();
        const perturbedError = worstPerturbedError(asked[1]!, run.row("perturbed", s), run.row("params", s));
        worstPerturbed = Math.max(worstPerturbed, perturbedError);
        if (perturbedError === 0) exactPerturbedSteps++;
        expect(result.loss).toBe(lossAt(name, s));
        expect(result.grad).toEqual(run.row("grad1", s));
        expect(firstMismatch(result.params, run.row("params", s + 1)), `params after step ${s + 1}`).toBeNull();
        params = result.params;
        state = result.state;
        const recorded = run.stateSteps.indexOf(s + 1);
        if (recorded >= 0) {
          expect(firstMismatch(state.buffers.momentum_buffer!, run.row("momentum_buffer", recorded)), `momentum at ${s + 1}`).toBeNull();
        }
      }
      expect(worstPerturbed).toBeLessThanOrEqual(PERTURBED_TOLERANCE);
      // Most steps land exactly where torch's did: the tolerance covers rare roundings only.
      expect(exactPerturbedSteps).toBeGreaterThan(run.steps / 2);
    });
  }
});

const fixedGradient = (values: number[]): GradientFn => async () => ({ loss: 1, grad: Float32Array.from(values) });

describe("SAM step", () => {
  it("has the paper's defaults: rho 0.05 over SGD with momentum 0.9, no weight decay", () => {
    expect(SAM_DEFAULTS).toEqual({ rho: 0.05, momentum: 0.9, weightDecay: 0 });
  });

  it("moves the ascent point rho along the normalised gradient", () => {
    const w = Float32Array.from([1, 2, 3]);
    const e = Array.from(perturbedParams(w, Float32Array.from([3, 0, -4]), 0.05), (x, i) => x - w[i]!);
    expect(e[0]).toBeCloseTo(0.03, 7);
    expect(e[1]).toBe(0);
    expect(e[2]).toBeCloseTo(-0.04, 7);
    expect(perturbedParams(w, new Float32Array(3), 0.05)).toEqual(w); // zero gradient: no ascent, no NaN
  });

  it("updates with the gradient at w + e and returns the loss and gradient at w", async () => {
    const optimizer = createSam({ momentum: 0 });
    // L(w) = sum (w - 1)^2 / 2, grad = w - 1: the second gradient is taken at w + e.
    const gradFn: GradientFn = async (at) => ({
      loss: at.reduce((a, x) => a + (x - 1) ** 2 / 2, 0),
      grad: Float32Array.from(at, (x) => x - 1),
    });
    const w = Float32Array.from([0, 3]);
    const { params, loss, grad } = await optimizer.step(w, optimizer.init(2), gradFn, 0.1);
    expect(loss).toBe(2.5);
    expect(grad).toEqual(Float32Array.from([-1, 2]));
    const g2 = Array.from(perturbedParams(w, grad, 0.05), (x) => x - 1);
    expect(params[0]).toBeCloseTo(0 - 0.1 * g2[0]!, 6);
    expect(params[1]).toBeCloseTo(3 - 0.1 * g2[1]!, 6);
    expect(g2[0]).not.toBe(-1);
  });

  it("does not mutate its inputs, and continues identically from a structured-cloned state", async () => {
    const optimizer = createSam({ weightDecay: 0.01 });
    const params = Float32Array.from([0.5, -1, 2]);
    const first = await optimizer.step(params, optimizer.init(3), fixedGradient([1, 2, 3]), 0.01);
    const snapshot = structuredClone({ params, state: first.state });
    const clonedState: OptimizerState = structuredClone(first.state);
    const a = await optimizer.step(first.params, first.state, fixedGradient([-1, 0.5, 0.25]), 0.01);
    const b = await optimizer.step(first.params, clonedState, fixedGradient([-1, 0.5, 0.25]), 0.01);
    expect(params).toEqual(snapshot.params);
    expect(first.state).toEqual(snapshot.state);
    expect(b).toEqual(a);
    expect(a.state.step).toBe(2);
  });

  it("refuses bad hyper-parameters with a clear error", async () => {
    expect(() => createSam({ rho: 0 })).toThrow(/sam: rho must be a finite number > 0, got 0/);
    expect(() => createSam({ rho: -0.05 })).toThrow(OptimizerConfigError);
    expect(() => createSam({ momentum: 1 })).toThrow(/sam: momentum must be a finite number in \[0, 1\)/);
    expect(() => createSam({ weightDecay: -1 })).toThrow(/weightDecay/);
    const optimizer = createSam();
    await expect(optimizer.step(new Float32Array(2), optimizer.init(2), fixedGradient([1, 1]), -0.1)).rejects.toThrow(/learning rate/);
    await expect(optimizer.step(new Float32Array(2), optimizer.init(2), fixedGradient([1]), 0.1)).rejects.toThrow(/2 values, got 1/);
  });
});
