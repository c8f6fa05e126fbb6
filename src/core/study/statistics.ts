/** Summary statistics for the study's tables and the ablation's trend test. */
import { mean, twoPassVariance } from "../stopping/variance.js";

/** Quantile by linear interpolation between order statistics (numpy's default, "linear"). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export interface MedianIqr {
  median: number;
  q1: number;
  q3: number;
  /** q3 - q1. */
  iqr: number;
}

export function medianIqr(values: readonly number[]): MedianIqr {
  const q1 = quantile(values, 0.25);
  const q3 = quantile(values, 0.75);
  return { median: quantile(values, 0.5), q1, q3, iqr: q3 - q1 };
}

/**
 * Welch's t of the first `window` values against the last `window` values:
 * (mean_early - mean_late) / sqrt(var_early / n + var_late / n), sample variances. A loss
 * that falls and settles gives a large positive t; a series whose noise hides the fall, t
 * near 0. (Neighbouring values are correlated, so t is a descriptive size, not a p-value.)
 */
export function earlyLateWelchT(values: readonly number[], window: number): number {
  if (!Number.isInteger(window) || window < 2 || 2 * window > values.length) throw new RangeError(`window ${window} does not fit twice into ${values.length} values`);
  const early = values.slice(0, window);
  const late = values.slice(values.length - window);
  const n = window;
  const sampleVar = (xs: number[]) => (twoPassVariance(xs) * n) / (n - 1);
  return (mean(early) - mean(late)) / Math.sqrt(sampleVar(early) / n + sampleVar(late) / n);
}

/** DVAR's statistic on a whole series: var(last `window` values) / var(all), population variances. */
export function lateVarianceRatio(values: readonly number[], window: number): number {
  if (window > values.length) throw new RangeError(`window ${window} exceeds the ${values.length} values`);
  return twoPassVariance(values.slice(values.length - window)) / twoPassVariance(values);
}
