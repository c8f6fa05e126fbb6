/**
 * A stopping rule replayed on a recorded series: the rule from src/core/stopping sees the
 * same values at the same steps as it would inside a run (only steps that are multiples
 * of its `every`), so its decisions are the run's.
 */
import { createCriterion, type CriterionSpecInput } from "../stopping/index.js";

export interface ReplayedRule {
  /** The rule's statistic after each observation (null while undefined), one per observed step. */
  steps: number[];
  values: (number | null)[];
  /** The first step at which it stops, or null if it never does on this series. */
  stopStep: number | null;
}

/** `observations`: (step, value) in increasing step order. Replays to the end even after a stop (for plots). */
export function replayRule(spec: CriterionSpecInput, observations: ReadonlyArray<{ step: number; value: number }>): ReplayedRule {
  const rule = createCriterion(spec);
  let state = rule.init();
  const out: ReplayedRule = { steps: [], values: [], stopStep: null };
  for (const { step, value } of observations) {
    if (step % rule.every !== 0) continue;
    const decision = rule.observe(state, step, value);
    state = decision.state;
    out.steps.push(step);
    out.values.push(decision.value);
    if (decision.stop && out.stopStep === null) out.stopStep = step;
  }
  return out;
}

/** A per-update series (entry i = after update i + 1) as observations. */
export function perStep(values: readonly number[]): Array<{ step: number; value: number }> {
  return values.map((value, i) => ({ step: i + 1, value }));
}
