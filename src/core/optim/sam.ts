import { f32, fmaF32 } from "../numeric/float32.js";
import type { GradientFn, Optimizer, OptimizerState, OptimizerStepResult } from "./optimizer.js";
import { requireGradient, requireInRange, requireLearningRate, requirePositive, requireState } from "./validate.js";

/** SAM hyper-parameters; defaults are the paper's experiments (FACTS.md section 1). */
export interface SamConfig {
  /** Radius of the ascent step e(w). */
  rho: number;
  /** Momentum of the SGD base (dampening 0, no Nesterov). */
  momentum: number;
  /** L2 penalty added to the gradient by the SGD base (torch.optim.SGD's weight_decay). */
  weightDecay: number;
}

export const SAM_DEFAULTS: Readonly<SamConfig> = Object.freeze({ rho: 0.05, momentum: 0.9, weightDecay: 0 });

const BUFFERS = ["momentum_buffer"] as const;

export function validateSamConfig(config: SamConfig): void {
  requirePositive("sam", "rho", config.rho);
  requireInRange("sam", "momentum", config.momentum, 0, 1);
  requireInRange("sam", "weightDecay", config.weightDecay, 0, Infinity);
}

/** e(w) = rho * g / (||g||_2 + 1e-12), added to w in float32: the point of the second evaluation. */
export function perturbedParams(params: Float32Array, grad: Float32Array, rho: number): Float32Array {
  let sumSquares = 0;
  for (let i = 0; i < grad.length; i++) sumSquares += grad[i]! * grad[i]!;
  const norm = f32(Math.sqrt(sumSquares));
  const scale = f32(rho / (norm + 1e-12));
  const out = new Float32Array(params.length);
  for (let i = 0; i < params.length; i++) out[i] = f32(params[i]! + f32(grad[i]! * scale));
  return out;
}

/**
 * Sharpness-Aware Minimization (Foret et al. 2020, Algorithm 1) over torch.optim.SGD.
 * Per step, on the same batch (gradFn is called twice):
 *   1. g1 = grad L(w)
 *   2. e  = rho * g1 / (||g1||_2 + 1e-12)
 *   3. g2 = grad L(w + e)
 *   4. SGD-momentum update of w (not w + e) with g2, as torch 1.13 on CPU in float32:
 *        d   = wd != 0 ? fma(w, wd, g2) : g2
 *        buf = first step ? d : buf * momentum + d
 *        w   = fma(buf, -lr, w)
 * The norm is accumulated in float64 (torch sums float32 partials), so e can differ from
 * a torch SAM's by a few ulps of e (and w + e round the other way); the update itself is
 * bit-exact given g2.
 */
export function createSam(overrides: Partial<SamConfig> = {}): Optimizer {
  const config = { ...SAM_DEFAULTS, ...overrides };
  validateSamConfig(config);
  const momentum = f32(config.momentum);
  const weightDecay = f32(config.weightDecay);
  return {
    name: "sam",
    evaluationsPerStep: 2,
    init(size: number): OptimizerState {
      return { step: 0, buffers: { momentum_buffer: new Float32Array(size) } };
    },
    async step(params: Float32Array, state: OptimizerState, gradFn: GradientFn, lr: number): Promise<OptimizerStepResult> {
      requireLearningRate("sam", lr);
      requireState("sam", params, state, BUFFERS);
      const first = await gradFn(params);
      requireGradient("sam", first.grad, params.length);
      const second = await gradFn(perturbedParams(params, first.grad, config.rho));
      requireGradient("sam", second.grad, params.length);
      const negLr = f32(-lr);
      const buf0 = state.buffers.momentum_buffer!;
      const p = new Float32Array(params.length);
      const buf = new Float32Array(params.length);
      for (let i = 0; i < params.length; i++) {
        const d = weightDecay !== 0 ? fmaF32(params[i]!, weightDecay, second.grad[i]!) : second.grad[i]!;
        // torch.optim.SGD starts the buffer as a copy of d; with momentum 0 it keeps none.
        buf[i] = state.step === 0 || momentum === 0 ? d : f32(f32(buf0[i]! * momentum) + d);
        p[i] = fmaF32(buf[i]!, negLr, params[i]!);
      }
      return {
        loss: first.loss,
        grad: first.grad,
        params: p,
        state: { step: state.step + 1, buffers: { momentum_buffer: buf } },
      };
    },
  };
}
