/**
 * Float32 arithmetic on JavaScript numbers (which are float64).
 *
 * `+ - * /` and `sqrt` of float32 inputs computed in float64 and rounded once with
 * Math.fround give the correctly rounded float32 result (float64 has more than
 * 2 * 24 + 2 significand bits, so the double rounding is harmless). A fused
 * multiply-add is different: `a * b + c` in float64 can round twice in a way float32
 * FMA never does, so `fmaF32` repairs the one case where that matters.
 */

export const f32 = Math.fround;

/**
 * round_to_float32(a * b + c), computed exactly and rounded once, like a hardware
 * float32 FMA (what PyTorch's CPU kernels run for `add(x, alpha=)`, `addcmul`, ...).
 * Inputs must already be float32 values.
 */
export function fmaF32(a: number, b: number, c: number): number {
  const product = a * b; // exact: 24 + 24 significand bits fit in 53
  const sum = product + c;
  // TwoSum: sum + error === product + c exactly.
  const bv = sum - product;
  const error = product - (sum - bv) + (c - bv);
  const rounded = f32(sum);
  if (error === 0 || rounded === sum || !Number.isFinite(rounded)) return rounded;
  // Rounding `sum` is wrong only when it lies exactly halfway between two float32
  // values: then the sign of the lost `error` decides, not ties-to-even.
  const other = 2 * sum - rounded;
  if (f32(other) !== other) return rounded;
  if (error > 0) return Math.max(rounded, other);
  return Math.min(rounded, other);
}
