import { f32, fmaF32 } from "../numeric/float32.js";
import type { SchedulerConfig } from "./config.js";

/** Float32 lanes of torch's x86 AVX2 CPU kernels (Vectorized<float>::size()). */
const LANES = 8;

/**
 * torch.linspace(start, end, n, dtype=float32) as torch's CPU kernel computes it
 * (aten RangeFactoriesKernel, AVX2 build), so betas match diffusers bit for bit:
 *   step = (end - start) / (n - 1) in float32;
 *   value(i) = start + step * i for i < n/2, end - step * (n - 1 - i) after (one fused
 *   multiply-add as compiled); in blocks of 2 x 8 values, each 8-lane vector takes
 *   value(i) at its first lane and adds k * step (rounded) for lane k; the last n mod 16
 *   values use value(i). Torch builds with 16 lanes (AVX-512) differ by an ulp here and there.
 */
export function linspaceF32(start: number, end: number, n: number): Float32Array {
  const first = f32(start);
  const last = f32(end);
  if (n === 1) return Float32Array.of(first);
  const step = f32(f32(last - first) / (n - 1));
  const halfway = Math.floor(n / 2);
  const value = (i: number) => (i < halfway ? fmaF32(step, i, first) : fmaF32(-step, n - 1 - i, last));
  const out = new Float32Array(n);
  let i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    for (let v = i; v < i + 2 * LANES; v += LANES) {
      const base = value(v);
      for (let k = 0; k < LANES; k++) out[v + k] = f32(base + f32(k * step));
    }
  }
  for (; i < n; i++) out[i] = value(i);
  return out;
}

/**
 * diffusers' betas_for_alpha_bar with the cosine alpha_bar of Nichol & Dhariwal (2021):
 * beta_i = min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta), computed in
 * float64 and stored as float32.
 */
export function cosineBetas(n: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number) => {
    const c = Math.cos(((t + 0.008) / 1.008) * Math.PI / 2);
    return c * c;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  return out;
}

/** The betas of a scheduler config, as diffusers' schedulers compute them in __init__. */
export function betasFor(config: SchedulerConfig): Float32Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas !== null) return Float32Array.from(config.trained_betas);
  switch (config.beta_schedule) {
    case "linear":
      return linspaceF32(config.beta_start, config.beta_end, n);
    case "scaled_linear":
      return linspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n).map((x) => x * x);
    case "squaredcos_cap_v2":
      return cosineBetas(n);
  }
}

/**
 * alphas_cumprod = cumprod(1 - betas). torch's CPU cumprod of float32 accumulates in
 * float64 and rounds each output to float32; so does this.
 */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]!);
    out[i] = product;
  }
  return out;
}
