/**
 * The contract every stopping rule follows. A rule is a pure function of plain-data
 * state: `observe` returns a new state, so a checkpoint can hold the state as JSON and a
 * resumed run takes exactly the decisions an uninterrupted one would.
 */
import type { CriterionSpec } from "./spec.js";

/** What a rule watches: L_det on the fixed batch, an external score (CLIP-s), or nothing (fixed steps). */
export type CriterionSignal = "ldet" | "score" | "none";

/** A rule's state: JSON-compatible plain data (numbers, arrays, null). */
export type CriterionState = { readonly [key: string]: unknown };

export interface CriterionDecision<S extends CriterionState = CriterionState> {
  state: S;
  /** The rule's statistic after this observation (DVAR's ratio, the slope, ...); null while undefined. */
  value: number | null;
  stop: boolean;
}

export interface StoppingCriterion<S extends CriterionState = CriterionState> {
  readonly spec: CriterionSpec;
  readonly signal: CriterionSignal;
  /** The rule is consulted after every `every`-th completed step (step % every === 0). */
  readonly every: number;
  init(): S;
  /**
   * Feeds the signal's value after `step` completed steps (NaN for signal "none").
   * Values must be finite; the runner fails a run before a non-finite value gets here.
   */
  observe(state: S, step: number, value: number): CriterionDecision<S>;
  /** Validates state read back from a checkpoint; throws (ZodError or TypeError) naming what is wrong. */
  parseState(raw: unknown): S;
}
