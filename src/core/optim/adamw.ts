import { f32, fmaF32 } from "../numeric/float32.js";
import type { GradientFn, Optimizer, OptimizerState, OptimizerStepResult } from "./optimizer.js";
import { requireGradient, requireInRange, requireLearningRate, requireState } from "./validate.js";

/** AdamW hyper-parameters; defaults are PyTorch's and diffusers' textual_inversion.py's. */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: Readonly<AdamWConfig> = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 });

const BUFFERS = ["exp_avg", "exp_avg_sq"] as const;

export function validateAdamWConfig(config: AdamWConfig): void {
  requireInRange("adamw", "beta1", config.beta1, 0, 1);
  requireInRange("adamw", "beta2", config.beta2, 0, 1);
  requireInRange("adamw", "eps", config.eps, 0, Infinity);
  requireInRange("adamw", "weightDecay", config.weightDecay, 0, Infinity);
}

/**
 * AdamW (Loshchilov & Hutter, 2019) bit-for-bit as torch.optim.AdamW (torch 1.13,
 * single-tensor path, float32 on CPU), checked against recorded torch trajectories.
 * Per step t (all tensors float32; scalars computed in float64, then rounded to float32):
 *   1. p  <- p * (1 - lr * wd)                       decoupled weight decay
 *   2. m  <- fma(g, 1 - b1, m * b1)                  `add_(g, alpha=1-b1)` is a fused multiply-add
 *   3. v  <- fma((1 - b2) * g, g, v * b2)            `addcmul_` multiplies value * g first
 *   4. d  <- sqrt(v) / sqrt(1 - b2^t) + eps
 *   5. p  <- p + (-(lr / (1 - b1^t)) * m) / d        `addcdiv_` multiplies value * m first
 * torch's foreach/fused and CUDA kernels order some of these roundings differently, so
 * they agree with this only to a few ulps per step.
 */
export function createAdamW(overrides: Partial<AdamWConfig> = {}): Optimizer {
  const config = { ...ADAMW_DEFAULTS, ...overrides };
  validateAdamWConfig(config);
  const b1 = f32(config.beta1);
  const b2 = f32(config.beta2);
  const oneMinusB1 = f32(1 - config.beta1);
  const oneMinusB2 = f32(1 - config.beta2);
  const eps = f32(config.eps);
  return {
    name: "adamw",
    evaluationsPerStep: 1,
    init(size: number): OptimizerState {
      return { step: 0, buffers: { exp_avg: new Float32Array(size), exp_avg_sq: new Float32Array(size) } };
    },
    async step(params: Float32Array, state: OptimizerState, gradFn: GradientFn, lr: number): Promise<OptimizerStepResult> {
      requireLearningRate("adamw", lr);
      requireState("adamw", params, state, BUFFERS);
      const { loss, grad } = await gradFn(params);
      requireGradient("adamw", grad, params.length);
      const step = state.step + 1;
      const decay = f32(1 - lr * config.weightDecay);
      const negStepSize = f32(-(lr / (1 - config.beta1 ** step)));
      const bc2Sqrt = f32(Math.sqrt(1 - config.beta2 ** step));
      const m0 = state.buffers.exp_avg!;
      const v0 = state.buffers.exp_avg_sq!;
      const p = new Float32Array(params.length);
      const m = new Float32Array(params.length);
      const v = new Float32Array(params.length);
      for (let i = 0; i < params.length; i++) {
        const g = grad[i]!;
        const decayed = f32(params[i]! * decay);
        m[i] = fmaF32(g, oneMinusB1, f32(m0[i]! * b1));
        v[i] = fmaF32(f32(oneMinusB2 * g), g, f32(v0[i]! * b2));
        const denom = f32(f32(f32(Math.sqrt(v[i]!)) / bc2Sqrt) + eps);
        p[i] = f32(decayed + f32(f32(negStepSize * m[i]!) / denom));
      }
      return { loss, grad, params: p, state: { step, buffers: { exp_avg: m, exp_avg_sq: v } } };
    },
  };
}
