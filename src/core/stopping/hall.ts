/**
 * Hall criterion (paper, Appendix B): over the last n values of L_det,
 *
 *   value = (max - min) / mean
 *
 * defined once n values exist; stops when value < threshold.
 */
import { z } from "zod";
import type { StoppingCriterion } from "./criterion.js";
import type { HallSpec } from "./spec.js";
import { mean, pushToWindow } from "./variance.js";

const windowStateSchema = z.strictObject({ window: z.array(z.number()) });
export type WindowState = z.infer<typeof windowStateSchema>;

/** Parses a `{window}` state holding at most `size` values. */
export function parseWindowState(raw: unknown, size: number, rule: string): WindowState {
  const state = windowStateSchema.parse(raw);
  if (state.window.length > size) throw new TypeError(`${rule} state: ${state.window.length} values, at most ${size} expected`);
  return state;
}

export function createHall(spec: HallSpec): StoppingCriterion<WindowState> {
  const { window: n, threshold } = spec;
  return {
    spec,
    signal: "ldet",
    every: spec.every,
    init: () => ({ window: [] }),
    observe(state, _step, x) {
      const window = pushToWindow(state.window, x, n);
      if (window.length < n) return { state: { window }, value: null, stop: false };
      const value = (Math.max(...window) - Math.min(...window)) / mean(window);
      return { state: { window }, value, stop: value < threshold };
    },
    parseState: (raw) => parseWindowState(raw, n, "Hall"),
  };
}
