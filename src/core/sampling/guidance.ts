import { f32 } from "../numeric/float32.js";
import { SamplerError } from "./errors.js";

/**
 * Classifier-free guidance (Ho & Salimans 2022): eps = eps_uncond + g (eps_cond - eps_uncond).
 * Like diffusers' pipelines, guidance applies only for g > 1; g = 1 is the conditional
 * prediction alone, so the unconditional model pass can be skipped. g < 1 (which
 * diffusers silently treats as 1) is refused.
 */
export function checkGuidanceScale(scale: number): void {
  if (!(Number.isFinite(scale) && scale >= 1)) throw new SamplerError(`guidance scale must be a finite number >= 1, got ${scale}`);
}

/** Whether a guidance scale needs the unconditional (negative-prompt) model output. */
export function needsUnconditional(scale: number): boolean {
  checkGuidanceScale(scale);
  return scale > 1;
}

/** uncond + g * (cond - uncond), each operation rounded to float32 as torch does. A new array. */
export function applyGuidance(unconditional: Float32Array, conditional: Float32Array, scale: number): Float32Array {
  checkGuidanceScale(scale);
  if (unconditional.length !== conditional.length) {
    throw new SamplerError(`unconditional output has ${unconditional.length} values, conditional ${conditional.length}`);
  }
  const g = f32(scale);
  const out = new Float32Array(conditional.length);
  for (let i = 0; i < out.length; i++) {
    const u = unconditional[i]!;
    out[i] = u + f32(g * f32(conditional[i]! - u));
  }
  return out;
}
