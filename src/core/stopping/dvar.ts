/**
 * DVAR (Voronov et al., "Is This Loss Informative?", section 3.3 and Figure 3), as the
 * authors' `VarEarlyStopper` computes it: the history holds every L_det since the first
 * step; once it has at least N values,
 *
 *   ratio = var(last N values) / var(all values)      (population variances, np.var)
 *
 * and training stops when ratio < alpha. No other warm-up. With var(all) = 0 the ratio
 * is NaN (0/0 in numpy) and never stops a run.
 *
 * The whole history enters only through its variance, so the state keeps Welford
 * moments of all values plus the last N values, not the full list (the runner's
 * history keeps that). The window's variance is recomputed two-pass each time.
 */
import { z } from "zod";
import type { CriterionDecision, StoppingCriterion } from "./criterion.js";
import type { DvarSpec } from "./spec.js";
import { addToMoments, EMPTY_MOMENTS, momentsVariance, pushToWindow, twoPassVariance } from "./variance.js";

const dvarStateSchema = z.strictObject({
  moments: z.strictObject({ count: z.number().int().min(0), mean: z.number(), m2: z.number().min(0) }),
  window: z.array(z.number()),
});
export type DvarState = z.infer<typeof dvarStateSchema>;

export function createDvar(spec: DvarSpec): StoppingCriterion<DvarState> {
  const { window: size, threshold } = spec;
  return {
    spec,
    signal: "ldet",
    every: spec.every,
    init: () => ({ moments: EMPTY_MOMENTS, window: [] }),
    observe(state, _step, x): CriterionDecision<DvarState> {
      const next = { moments: addToMoments(state.moments, x), window: pushToWindow(state.window, x, size) };
      if (next.moments.count < size) return { state: next, value: null, stop: false };
      const ratio = twoPassVariance(next.window) / momentsVariance(next.moments);
      return { state: next, value: ratio, stop: ratio < threshold };
    },
    parseState(raw) {
      const state = dvarStateSchema.parse(raw);
      if (state.window.length !== Math.min(size, state.moments.count)) {
        throw new TypeError(`DVAR state: window holds ${state.window.length} values, expected ${Math.min(size, state.moments.count)}`);
      }
      return state;
    },
  };
}
