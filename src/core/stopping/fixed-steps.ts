/** Fixed number of steps: the paper's "Baseline" (6100) and "Few iters" rows. Its value is the steps left. */
import { z } from "zod";
import type { StoppingCriterion } from "./criterion.js";
import type { FixedStepsSpec } from "./spec.js";

const fixedStateSchema = z.strictObject({});
export type FixedStepsState = z.infer<typeof fixedStateSchema>;

export function createFixedSteps(spec: FixedStepsSpec): StoppingCriterion<FixedStepsState> {
  return {
    spec,
    signal: "none",
    every: 1,
    init: () => ({}),
    observe: (state, step) => ({ state, value: spec.steps - step, stop: step >= spec.steps }),
    parseState: (raw) => fixedStateSchema.parse(raw),
  };
}
