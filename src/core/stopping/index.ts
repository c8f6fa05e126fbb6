/** Stopping rules for inversion runs: DVAR, fixed steps, Appendix B's EMA/Hall/Trend, patience on a score. */
import type { StoppingCriterion } from "./criterion.js";
import { createDvar } from "./dvar.js";
import { createEmaChange } from "./ema-change.js";
import { createFixedSteps } from "./fixed-steps.js";
import { createHall } from "./hall.js";
import { createPatience } from "./patience.js";
import { parseCriterionSpec, type CriterionSpecInput } from "./spec.js";
import { createTrend } from "./trend.js";

export type { CriterionDecision, CriterionSignal, CriterionState, StoppingCriterion } from "./criterion.js";
export {
  CRITERION_PRESETS,
  InvalidCriterionSpecError,
  criterionSpecSchema,
  parseCriterionSpec,
  type CriterionPresetName,
  type CriterionSpec,
  type CriterionSpecInput,
} from "./spec.js";

/** Builds the rule a spec names (validating it first). */
export function createCriterion(input: CriterionSpecInput): StoppingCriterion {
  const spec = parseCriterionSpec(input);
  switch (spec.name) {
    case "dvar":
      return createDvar(spec);
    case "fixed":
      return createFixedSteps(spec);
    case "ema":
      return createEmaChange(spec);
    case "hall":
      return createHall(spec);
    case "trend":
      return createTrend(spec);
    case "patience":
      return createPatience(spec);
  }
}
