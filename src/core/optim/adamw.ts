import type { GradientFn, Optimizer, OptimizerState, OptimizerStepResult } from "./optimizer.js";

/** AdamW hyper-parameters; defaults are PyTorch's and diffusers' textual_inversion.py's. */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 };

const f32 = Math.fround;

/**
 * AdamW (Loshchilov & Hutter, 2019) with PyTorch's semantics (torch.optim.AdamW,
 * single-tensor path): decoupled weight decay applied to the parameters before the
 * moment update, bias-corrected step size, eps added after the bias-corrected sqrt.
 * Arithmetic is rounded to float32 after each operation, as PyTorch's float32 kernels do.
 */
export function createAdamW(overrides: Partial<AdamWConfig> = {}): Optimizer {
  const config = { ...ADAMW_DEFAULTS, ...overrides };
  const { beta1, beta2, eps, weightDecay } = config;
  return {
    name: "adamw",
    evaluationsPerStep: 1,
    init(size: number): OptimizerState {
      return { step: 0, buffers: { exp_avg: new Float32Array(size), exp_avg_sq: new Float32Array(size) } };
    },
    async step(params: Float32Array, state: OptimizerState, gradFn: GradientFn, lr: number): Promise<OptimizerStepResult> {
      const { loss, grad } = await gradFn(params);
      const m0 = state.buffers.exp_avg!;
      const v0 = state.buffers.exp_avg_sq!;
      const step = state.step + 1;
      const decay = f32(1 - lr * weightDecay);
      const oneMinusBeta1 = f32(1 - beta1);
      const oneMinusBeta2 = f32(1 - beta2);
      const stepSize = f32(lr / (1 - beta1 ** step));
      const bc2Sqrt = f32(Math.sqrt(1 - beta2 ** step));
      const b1 = f32(beta1);
      const b2 = f32(beta2);
      const epsF = f32(eps);
      const p = new Float32Array(params.length);
      const m = new Float32Array(params.length);
      const v = new Float32Array(params.length);
      for (let i = 0; i < params.length; i++) {
        const g = grad[i]!;
        const pi = f32(params[i]! * decay);
        const mi = f32(f32(m0[i]! * b1) + f32(g * oneMinusBeta1));
        const vi = f32(f32(v0[i]! * b2) + f32(f32(g * g) * oneMinusBeta2));
        const denom = f32(f32(f32(Math.sqrt(vi)) / bc2Sqrt) + epsF);
        p[i] = f32(pi - f32(stepSize * f32(mi / denom)));
        m[i] = mi;
        v[i] = vi;
      }
      return { loss, grad, params: p, state: { step, buffers: { exp_avg: m, exp_avg_sq: v } } };
    },
  };
}
