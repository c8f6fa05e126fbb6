/**
 * The semi-deterministic ablation (paper, section 4.4 and Figure 5): along a recorded
 * trajectory, the loss on L_det's evaluation batch with exactly one source of randomness
 * redrawn at every step, next to L_det itself (nothing redrawn). A source whose redraws
 * hide the convergence trend makes the loss uninformative; the paper finds that the
 * timesteps do, at any batch size.
 */
import type { EvalRandomness, Objective } from "../inversion/index.js";
import { earlyLateWelchT, lateVarianceRatio } from "./statistics.js";

export type AblationVariant = "none" | EvalRandomness;

export interface AblationSeries {
  /** Steps 1..steps. */
  steps: number;
  /** "none" is L_det; every other entry one redrawn source. Entry s - 1 belongs to step s. */
  series: Partial<Record<AblationVariant, number[]>>;
}

export interface TrendStatistics {
  variant: AblationVariant;
  /** var(last `window`) / var(all): near 1 when noise dominates, small after a fall that settled. */
  varianceRatio: number;
  /** Welch's t of the first tenth against the last tenth of the series. */
  earlyLateT: number;
  /** mean of the first tenth minus mean of the last tenth. */
  drop: number;
}

/**
 * Evaluates the variants at the parameters after steps 1..`steps`. `ldet`, when given, is
 * the trajectory's L_det series (the "none" variant), which saves recomputing it.
 */
export async function semiDeterministicAblation(
  objective: Objective,
  paramsAt: (step: number) => Float32Array,
  steps: number,
  options: { sources?: readonly EvalRandomness[]; ldet?: readonly number[]; onProgress?: (step: number) => void } = {},
): Promise<AblationSeries> {
  const sources = options.sources ?? objective.resampleSources ?? [];
  if (sources.length > 0 && !objective.resampledEvalLoss) throw new RangeError("the objective cannot redraw its evaluation batch");
  for (const source of sources) {
    if (!objective.resampleSources?.includes(source)) throw new RangeError(`the objective cannot redraw '${source}'`);
  }
  const series: AblationSeries["series"] = { none: [] };
  for (const source of sources) series[source] = [];
  for (let step = 1; step <= steps; step++) {
    const p = paramsAt(step);
    series.none!.push(options.ldet?.[step - 1] ?? (await objective.evalLoss(p)));
    for (const source of sources) series[source]!.push(await objective.resampledEvalLoss!(source, step, p));
    if (step % 100 === 0) options.onProgress?.(step);
  }
  return { steps, series };
}

/** The trend statistics of each variant; `window` for the variance ratio (DVAR's N). */
export function trendStatistics(ablation: AblationSeries, window: number): TrendStatistics[] {
  const tenth = Math.max(2, Math.floor(ablation.steps / 10));
  return (Object.entries(ablation.series) as Array<[AblationVariant, number[]]>).map(([variant, values]) => {
    const early = values.slice(0, tenth), late = values.slice(values.length - tenth);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      variant,
      varianceRatio: lateVarianceRatio(values, Math.min(window, values.length)),
      earlyLateT: earlyLateWelchT(values, tenth),
      drop: avg(early) - avg(late),
    };
  });
}
