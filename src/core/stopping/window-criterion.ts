/**
 * The shape Hall and Trend share: keep the last n L_det values, and once n exist compute
 * a statistic of them and stop when it falls below a threshold.
 */
import { z } from "zod";
import type { StoppingCriterion } from "./criterion.js";
import type { HallSpec, TrendSpec } from "./spec.js";
import { pushToWindow } from "./variance.js";

const windowStateSchema = z.strictObject({ window: z.array(z.number()) });
export type WindowState = z.infer<typeof windowStateSchema>;

/**
 * A criterion over the last `spec.window` values: `statistic(window)` is its value, and it
 * stops when `stops(value)`. `rule` names it in state-parsing errors.
 */
export function windowCriterion(
  spec: HallSpec | TrendSpec,
  rule: string,
  statistic: (window: readonly number[]) => number,
  stops: (value: number) => boolean,
): StoppingCriterion<WindowState> {
  const n = spec.window;
  return {
    spec,
    signal: "ldet",
    every: spec.every,
    init: () => ({ window: [] }),
    observe(state, _step, x) {
      const window = pushToWindow(state.window, x, n);
      if (window.length < n) return { state: { window }, value: null, stop: false };
      const value = statistic(window);
      return { state: { window }, value, stop: stops(value) };
    },
    parseState(raw) {
      const state = windowStateSchema.parse(raw);
      if (state.window.length > n) throw new TypeError(`${rule} state: ${state.window.length} values, at most ${n} expected`);
      return state;
    },
  };
}
