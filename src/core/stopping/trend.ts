/**
 * Trend criterion (paper, Appendix B): the least-squares slope of L_det against the
 * observation index over the last n values, by the exact formula
 *
 *   slope = sum((i - i_mean) (y_i - y_mean)) / sum((i - i_mean)^2),  i = 0..n-1
 *
 * (per observation, i.e. per `every` steps). Defined once n values exist; stops when
 * |slope| < threshold.
 */
import type { StoppingCriterion } from "./criterion.js";
import type { TrendSpec } from "./spec.js";
import { mean } from "./variance.js";
import { windowCriterion, type WindowState } from "./window-criterion.js";

/** Least-squares slope of `values` against 0..n-1. */
export function leastSquaresSlope(values: ArrayLike<number>): number {
  const n = values.length;
  const iMean = (n - 1) / 2;
  const yMean = mean(values);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - iMean) * (values[i]! - yMean);
    den += (i - iMean) * (i - iMean);
  }
  return num / den;
}

export function createTrend(spec: TrendSpec): StoppingCriterion<WindowState> {
  const { threshold } = spec;
  return windowCriterion(spec, "Trend", leastSquaresSlope, (value) => Math.abs(value) < threshold);
}
