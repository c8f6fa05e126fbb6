/**
 * DVAR's N and alpha calibrated on a study's tuning concepts and judged on its held-out
 * ones (src/core/study/calibration.ts has the rule). Every candidate's stop is a replay
 * on the recorded L_det; the scores it needs beyond the records' cadence are taken with
 * the study's own score, from the recorded embeddings, by the caller's `scoreSteps`.
 */
import {
  type CalibrationConcept,
  type CalibrationRule,
  type CandidateOutcome,
  candidateOutcome,
  chooseCandidate,
  type DvarCandidate,
  type LeaveOneOut,
  leaveOneOut,
  stepsToScore,
} from "../../core/study/index.js";
import type { ConceptRecord } from "./concept-study.js";

export interface StudyCalibration {
  rule: CalibrationRule;
  tuning: string[];
  heldOut: string[];
  /** Every candidate on the tuning concepts, in grid order. */
  grid: CandidateOutcome[];
  /** The selected candidate on the tuning concepts; null when none is feasible. */
  chosen: CandidateOutcome | null;
  /** The selected candidate on the held-out concepts (null: none chosen, or no held-out concepts). */
  heldOutOutcome: CandidateOutcome | null;
  /** Each tuning concept predicted by the choice made on the other tuning concepts (null: fewer than 2). */
  leaveOneOut: LeaveOneOut | null;
  /** Scores taken beyond the records' (concept -> step -> score). */
  extraScores: Record<string, Record<string, number>>;
}

/** Scores the embeddings of these steps of one concept (the study's score settings). */
export type ScoreSteps = (concept: string, steps: readonly number[]) => Promise<ReadonlyMap<number, number>>;

const asCalibrationConcept = (r: ConceptRecord): CalibrationConcept => ({ name: r.concept, ldet: r.series.ldet, baselineScore: r.methods.baseline.score });

export async function calibrateStudy(
  records: readonly ConceptRecord[],
  tuningNames: readonly string[],
  grid: readonly DvarCandidate[],
  rule: CalibrationRule,
  scoreSteps: ScoreSteps,
): Promise<StudyCalibration> {
  const byName = new Map(records.map((r) => [r.concept, r]));
  const missing = tuningNames.filter((n) => !byName.has(n));
  if (missing.length > 0) throw new Error(`tuning concepts without a record: ${missing.join(", ")}`);
  if (tuningNames.length === 0) throw new Error("calibration needs at least one tuning concept");
  const tuning = records.filter((r) => tuningNames.includes(r.concept));
  const heldOut = records.filter((r) => !tuningNames.includes(r.concept));

  const scores = new Map(records.map((r) => [r.concept, new Map(r.scores.step.map((s, i) => [s, r.scores.score[i]!]))]));
  const extraScores: Record<string, Record<string, number>> = {};
  const ensureScored = async (concepts: readonly CalibrationConcept[], candidates: readonly DvarCandidate[]) => {
    for (const [name, steps] of stepsToScore(candidates, concepts)) {
      const known = scores.get(name)!;
      const todo = [...steps].filter((s) => !known.has(s)).sort((a, b) => a - b);
      if (todo.length === 0) continue;
      const taken = await scoreSteps(name, todo);
      for (const step of todo) {
        const value = taken.get(step);
        if (value === undefined) throw new Error(`${name}: step ${step} was not scored`);
        known.set(step, value);
        (extraScores[name] ??= {})[String(step)] = value;
      }
    }
  };
  const scoreAt = (name: string, step: number) => scores.get(name)!.get(step)!;

  const tuningConcepts = tuning.map(asCalibrationConcept);
  await ensureScored(tuningConcepts, grid);
  const outcomes = grid.map((c) => candidateOutcome(c, tuningConcepts, scoreAt, rule));
  const chosen = chooseCandidate(outcomes, rule);
  let heldOutOutcome: CandidateOutcome | null = null;
  if (chosen && heldOut.length > 0) {
    const heldOutConcepts = heldOut.map(asCalibrationConcept);
    await ensureScored(heldOutConcepts, [chosen]);
    heldOutOutcome = candidateOutcome(chosen, heldOutConcepts, scoreAt, rule);
  }
  const loo = tuningConcepts.length >= 2 ? leaveOneOut(grid, tuningConcepts, scoreAt, rule) : null;
  return { rule, tuning: tuning.map((r) => r.concept), heldOut: heldOut.map((r) => r.concept), grid: outcomes, chosen, heldOutOutcome, leaveOneOut: loo, extraScores };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The grid as a table: median steps / worst fraction / median ratio per candidate; the chosen one marked. */
export function calibrationMarkdown(c: StudyCalibration): string {
  const windows = [...new Set(c.grid.map((o) => o.window))];
  const thresholds = [...new Set(c.grid.map((o) => o.threshold))];
  const cell = (w: number, t: number) => {
    const o = c.grid.find((g) => g.window === w && g.threshold === t);
    if (!o) return "";
    const text = `${o.medianSteps} / ${pct(o.maxSteps / c.rule.steps)} / ${pct(o.medianRatio)}`;
    return o === c.chosen ? `**${text}**` : o.feasible ? text : `(${text})`;
  };
  const lines = [
    `Tuning concepts (${c.tuning.join(", ")}): per candidate N (rows) and alpha (columns), median DVAR steps / the slowest concept's share of ${c.rule.steps} steps / median DVAR score : median baseline score. ` +
      `In parentheses: not feasible (some concept stops later than ${pct(c.rule.maxFraction)} of the steps, or never). ` +
      `Chosen (bold): among feasible candidates, the fewest median steps whose median ratio is within ${pct(c.rule.tolerance)} of the best feasible ratio.`,
    "",
    `| N \\ alpha | ${thresholds.join(" | ")} |`,
    `| --- |${thresholds.map(() => " --- |").join("")}`,
    ...windows.map((w) => `| ${w} | ${thresholds.map((t) => cell(w, t)).join(" | ")} |`),
    "",
  ];
  if (!c.chosen) return [...lines, "**No candidate is feasible**: no N/alpha in the grid stops every tuning concept within the bar."].join("\n");
  const held = c.heldOutOutcome;
  const loo = c.leaveOneOut;
  const looLines = loo
    ? [
        "",
        `Leave-one-out on the tuning concepts (each predicted by the N and alpha chosen on the other ${c.tuning.length - 1}):`,
        "",
        "| concept | chosen without it | DVAR steps | score / baseline |",
        "| --- | --- | --- | --- |",
        ...loo.predictions.map((p) => `| ${p.concept} | ${p.chosen ? `N=${p.chosen.window}, alpha=${p.chosen.threshold}` : "none feasible"} | ${p.outcome ? `${p.outcome.step}${p.outcome.stopped ? "" : " (cap)"}` : "-"} | ${p.outcome ? pct(p.outcome.ratio) : "-"} |`),
        "",
        `Median ${loo.medianSteps} steps (slowest ${pct(loo.maxSteps / c.rule.steps)}); median score / median baseline ${pct(loo.medianRatio)}.`,
      ]
    : [];
  return [
    ...lines,
    `Chosen: **N=${c.chosen.window}, alpha=${c.chosen.threshold}** (tuning: median ${c.chosen.medianSteps} steps, slowest ${pct(c.chosen.maxSteps / c.rule.steps)}, median ratio ${pct(c.chosen.medianRatio)}` +
      (held ? `; held out: median ${held.medianSteps} steps, slowest ${pct(held.maxSteps / c.rule.steps)}, median ratio ${pct(held.medianRatio)})` : ")") + ".",
    ...looLines,
  ].join("\n");
}
