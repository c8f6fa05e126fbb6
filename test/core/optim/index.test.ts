import { describe, expect, it } from "vitest";
import {
  createOptimizer,
  type GradientFn,
  OptimizerConfigError,
  type OptimizerSpec,
  resolveOptimizerSpec,
} from "../../../src/core/optim/index.js";
import { createAdamW } from "../../../src/core/optim/adamw.js";
import { createSam } from "../../../src/core/optim/sam.js";

const gradFn: GradientFn = async (params) => ({ loss: 0, grad: Float32Array.from(params, (x, i) => Math.sin(3 * x + i)) });

async function runSteps(optimizer: ReturnType<typeof createOptimizer>, steps: number): Promise<Float32Array> {
  let params: Float32Array = Float32Array.from([0.3, -0.2, 0.1, 0.7]);
  let state = optimizer.init(params.length);
  for (let s = 0; s < steps; s++) ({ params, state } = await optimizer.step(params, state, gradFn, 5e-3));
  return params;
}

describe("OptimizerSpec", () => {
  it("fills the defaults", () => {
    expect(resolveOptimizerSpec({ name: "adamw" })).toEqual({ name: "adamw", beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 });
    expect(resolveOptimizerSpec({ name: "sam", rho: 0.1 })).toEqual({ name: "sam", rho: 0.1, momentum: 0.9, weightDecay: 0 });
  });

  it("round-trips through JSON to the same optimizer behaviour", async () => {
    const spec: OptimizerSpec = resolveOptimizerSpec({ name: "adamw", beta2: 0.99, weightDecay: 0 });
    const restored = resolveOptimizerSpec(JSON.parse(JSON.stringify(spec)));
    expect(restored).toEqual(spec);
    expect(await runSteps(createOptimizer(restored), 5)).toEqual(await runSteps(createAdamW({ beta2: 0.99, weightDecay: 0 }), 5));
  });

  it("builds AdamW and SAM with the spec's hyper-parameters", async () => {
    const adamw = createOptimizer({ name: "adamw", beta1: 0.8 });
    const sam = createOptimizer({ name: "sam", momentum: 0.5 });
    expect([adamw.name, adamw.evaluationsPerStep, sam.name, sam.evaluationsPerStep]).toEqual(["adamw", 1, "sam", 2]);
    expect(await runSteps(adamw, 4)).toEqual(await runSteps(createAdamW({ beta1: 0.8 }), 4));
    expect(await runSteps(sam, 4)).toEqual(await runSteps(createSam({ momentum: 0.5 }), 4));
    expect(await runSteps(sam, 4)).not.toEqual(await runSteps(createSam(), 4));
  });

  it("refuses unknown optimizers, unknown fields, wrong types and out-of-range values", () => {
    expect(() => resolveOptimizerSpec({ name: "lion" })).toThrow(OptimizerConfigError);
    expect(() => resolveOptimizerSpec({ name: "adamw", betas: [0.9, 0.99] })).toThrow(/invalid optimizer spec.*betas/s);
    expect(() => resolveOptimizerSpec({ name: "sam", rho: "0.05" })).toThrow(/invalid optimizer spec.*rho/s);
    expect(() => resolveOptimizerSpec(null)).toThrow(OptimizerConfigError);
    expect(() => createOptimizer({ name: "sam", rho: 0 })).toThrow(/sam: rho must be a finite number > 0/);
    expect(() => createOptimizer({ name: "adamw", beta2: 1 })).toThrow(/adamw: beta2 must be a finite number in \[0, 1\)/);
  });
});
