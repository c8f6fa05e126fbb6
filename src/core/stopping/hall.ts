/**
 * Hall criterion (paper, Appendix B): over the last n values of L_det,
 *
 *   value = (max - min) / mean
 *
 * defined once n values exist; stops when value < threshold.
 */
import type { StoppingCriterion } from "./criterion.js";
import type { HallSpec } from "./spec.js";
import { mean } from "./variance.js";
import { windowCriterion, type WindowState } from "./window-criterion.js";

export function createHall(spec: HallSpec): StoppingCriterion<WindowState> {
  const { threshold } = spec;
  return windowCriterion(
    spec,
    "Hall",
    (window) => (Math.max(...window) - Math.min(...window)) / mean(window),
    (value) => value < threshold,
  );
}
