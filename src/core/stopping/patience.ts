/**
 * Patience on an external score (the paper's CLIP-s baseline, section 4.2: "stops when
 * the score fails to improve by more than 0.05 for 5 consecutive evaluations").
 * An evaluation improves when score > best + eps (mode "max"; < best - eps for "min");
 * `best` moves only on an improvement. Stops after `patience` consecutive evaluations
 * without one. (The authors' `ClipEarlyStopper` stops one evaluation later, when the
 * count exceeds `patience`; this follows the paper's text.) Its value is that count.
 */
import { z } from "zod";
import type { StoppingCriterion } from "./criterion.js";
import type { PatienceSpec } from "./spec.js";

const patienceStateSchema = z.strictObject({ best: z.number().nullable(), misses: z.number().int().min(0) });
export type PatienceState = z.infer<typeof patienceStateSchema>;

export function createPatience(spec: PatienceSpec): StoppingCriterion<PatienceState> {
  const { eps, patience, mode } = spec;
  const improves = (score: number, best: number) => (mode === "max" ? score > best + eps : score < best - eps);
  return {
    spec,
    signal: "score",
    every: spec.every,
    init: () => ({ best: null, misses: 0 }),
    observe(state, _step, score) {
      if (state.best === null || improves(score, state.best)) {
        return { state: { best: score, misses: 0 }, value: 0, stop: false };
      }
      const misses = state.misses + 1;
      return { state: { best: state.best, misses }, value: misses, stop: misses >= patience };
    },
    parseState: (raw) => patienceStateSchema.parse(raw),
  };
}
