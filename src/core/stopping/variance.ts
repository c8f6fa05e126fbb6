/**
 * Variance helpers for the stopping rules. DVAR divides a windowed variance by the
 * variance of the whole run, so the whole-run variance must stay accurate over 10^5+
 * values whose mean is far from zero: a naive sum-of-squares loses every digit there.
 * Welford's update (Welford, 1962; Knuth TAOCP vol. 2, 4.2.2) keeps it to ~1e-13.
 */

/** Running mean and sum of squared deviations; plain data so a checkpoint restores it bit-exactly. */
export interface RunningMoments {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean (Welford's M2). */
  m2: number;
}

export const EMPTY_MOMENTS: RunningMoments = { count: 0, mean: 0, m2: 0 };

/** Welford's update: returns the moments with `x` appended. */
export function addToMoments(moments: RunningMoments, x: number): RunningMoments {
  const count = moments.count + 1;
  const delta = x - moments.mean;
  const mean = moments.mean + delta / count;
  const m2 = moments.m2 + delta * (x - mean);
  return { count, mean, m2 };
}

/** Population variance (numpy's `np.var`, ddof 0); NaN when empty. */
export function momentsVariance(moments: RunningMoments): number {
  return moments.count === 0 ? NaN : moments.m2 / moments.count;
}

/** Population variance by the two-pass formula (mean first, then squared deviations). */
export function twoPassVariance(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let squares = 0;
  let deviations = 0; // compensates the rounding of `mean` (Chan, Golub & LeVeque's corrected two-pass)
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    squares += d * d;
    deviations += d;
  }
  return (squares - (deviations * deviations) / n) / n;
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Keeps the last `size` values of a window: returns a new array. */
export function pushToWindow(window: readonly number[], x: number, size: number): number[] {
  const next = window.length >= size ? window.slice(window.length - size + 1) : window.slice();
  next.push(x);
  return next;
}
