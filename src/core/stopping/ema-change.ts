/**
 * "EMA percentile" (paper, Appendix B): an exponential moving average of L_det
 * (EMA_t = a x_t + (1 - a) EMA_{t-1}, started at the first value), and the relative
 * change over n observations:
 *
 *   value = (EMA(t) - EMA(t - n)) / EMA(t - n)
 *
 * defined once n + 1 values exist. The paper gives no stopping threshold; this rule
 * stops when |value| < threshold.
 */
import { z } from "zod";
import type { StoppingCriterion } from "./criterion.js";
import type { EmaChangeSpec } from "./spec.js";
import { pushToWindow } from "./variance.js";

const emaStateSchema = z.strictObject({ emas: z.array(z.number()) });
export type EmaChangeState = z.infer<typeof emaStateSchema>;

export function createEmaChange(spec: EmaChangeSpec): StoppingCriterion<EmaChangeState> {
  const { window: n, alpha, threshold } = spec;
  return {
    spec,
    signal: "ldet",
    every: spec.every,
    init: () => ({ emas: [] }),
    observe(state, _step, x) {
      const previous = state.emas[state.emas.length - 1];
      const ema = previous === undefined ? x : alpha * x + (1 - alpha) * previous;
      const emas = pushToWindow(state.emas, ema, n + 1);
      if (emas.length < n + 1) return { state: { emas }, value: null, stop: false };
      const past = emas[0]!;
      const value = (ema - past) / past;
      return { state: { emas }, value, stop: Math.abs(value) < threshold };
    },
    parseState(raw) {
      const state = emaStateSchema.parse(raw);
      if (state.emas.length > n + 1) throw new TypeError(`EMA state: ${state.emas.length} values, at most ${n + 1} expected`);
      return state;
    },
  };
}
