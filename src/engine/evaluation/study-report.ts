/**
 * The study's tables from the concept records: issue 5's acceptance table (DVAR steps
 * and score against the baseline, PASS/FAIL) and the paper's Table 1 (median and
 * interquartile range of score, iterations and time per method), the ablation's
 * statistics, and the score's noise.
 */
import { type MedianIqr, medianIqr, type MethodOutcome } from "../../core/study/index.js";
import { calibrationMarkdown, type StudyCalibration } from "./calibration.js";
import type { ConceptRecord } from "./concept-study.js";
import type { StudySettings } from "./study-settings.js";

export interface FewIters {
  steps: { max: number; mean: number };
  /** Per concept, in the records' order. */
  max: MethodOutcome[];
  mean: MethodOutcome[];
}

export interface AcceptanceRow {
  concept: string;
  initializer: string;
  initScore: number;
  dvarSteps: number;
  dvarStopped: boolean;
  /** dvarSteps / steps. */
  fraction: number;
  dvarScore: number;
  baselineBestStep: number;
  baselineScore: number;
}

/** The DVAR rule judged, and what it returns on each concept (in the records' order). */
export interface JudgedDvar {
  /** e.g. "dvar-paper (N=282, alpha=0.39)". */
  label: string;
  outcomes: ReadonlyArray<Pick<MethodOutcome, "step" | "stopped" | "score">>;
}

export interface Acceptance {
  /** The DVAR rule judged. */
  preset: string;
  steps: number;
  rows: AcceptanceRow[];
  medianDvarSteps: number;
  maxDvarSteps: number;
  medianDvarScore: number;
  medianBaselineScore: number;
  /** median DVAR score / median baseline score. */
  scoreRatio: number;
  /** Issue 5: every concept stops within 15% of the steps, and the median score is >= 95% of the baseline's. */
  pass: boolean;
}

export interface Table1Row {
  method: string;
  score: MedianIqr;
  iterations: MedianIqr;
  seconds: MedianIqr;
}

const median = (xs: number[]) => medianIqr(xs).median;

export function acceptance(records: readonly ConceptRecord[], dvar: JudgedDvar, steps: number): Acceptance {
  if (dvar.outcomes.length !== records.length) throw new RangeError(`${dvar.outcomes.length} DVAR outcomes for ${records.length} concepts`);
  const rows = records.map((r, i) => ({
    concept: r.concept,
    initializer: r.initializer,
    initScore: r.scores.score[r.scores.step.indexOf(0)]!,
    dvarSteps: dvar.outcomes[i]!.step,
    dvarStopped: dvar.outcomes[i]!.stopped,
    fraction: dvar.outcomes[i]!.step / steps,
    dvarScore: dvar.outcomes[i]!.score,
    baselineBestStep: r.methods.baseline.bestStep!,
    baselineScore: r.methods.baseline.score,
  }));
  const medianDvarScore = median(rows.map((r) => r.dvarScore));
  const medianBaselineScore = median(rows.map((r) => r.baselineScore));
  const maxDvarSteps = Math.max(...rows.map((r) => r.dvarSteps));
  const scoreRatio = medianDvarScore / medianBaselineScore;
  return {
    preset: dvar.label,
    steps,
    rows,
    medianDvarSteps: median(rows.map((r) => r.dvarSteps)),
    maxDvarSteps,
    medianDvarScore,
    medianBaselineScore,
    scoreRatio,
    pass: rows.every((r) => r.dvarStopped) && maxDvarSteps <= 0.15 * steps && scoreRatio >= 0.95,
  };
}

export function table1(records: readonly ConceptRecord[], fewIters: FewIters, calibrated?: { label: string; outcomes: MethodOutcome[] }): Table1Row[] {
  const row = (method: string, outcomes: MethodOutcome[]): Table1Row => ({
    method,
    score: medianIqr(outcomes.map((o) => o.score)),
    iterations: medianIqr(outcomes.map((o) => o.step)),
    seconds: medianIqr(outcomes.map((o) => o.seconds)),
  });
  return [
    row("Baseline", records.map((r) => r.methods.baseline)),
    row("CLIP-s", records.map((r) => r.methods.clipS)),
    row(`Few iters (max, ${fewIters.steps.max})`, fewIters.max),
    row(`Few iters (mean, ${fewIters.steps.mean})`, fewIters.mean),
    row("DVAR (N=310, alpha=0.15)", records.map((r) => r.methods.dvar)),
    row("DVAR (N=282, alpha=0.39)", records.map((r) => r.methods["dvar-paper"])),
    ...(calibrated ? [row(`DVAR (${calibrated.label})`, calibrated.outcomes)] : []),
  ];
}

const f4 = (x: number) => x.toFixed(4);

export function acceptanceMarkdown(a: Acceptance): string {
  const rows = a.rows.map(
    (r) =>
      `| ${r.concept} | ${r.initializer} | ${f4(r.initScore)} | ${r.dvarSteps}${r.dvarStopped ? "" : " (cap)"} | ${(100 * r.fraction).toFixed(1)}% | ${f4(r.dvarScore)} | ${r.baselineBestStep} | ${f4(r.baselineScore)} | ${(100 * r.dvarScore / r.baselineScore).toFixed(1)}% |`,
  );
  return [
    `| concept | init token | init score | DVAR steps | of ${a.steps} | DVAR score | baseline best step | baseline score | DVAR / baseline |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...rows,
    "",
    `DVAR ${a.preset}. Median DVAR steps ${a.medianDvarSteps} (max ${a.maxDvarSteps}, bar ${0.15 * a.steps}); median score DVAR ${f4(a.medianDvarScore)} vs baseline ${f4(a.medianBaselineScore)} = ${(100 * a.scoreRatio).toFixed(1)}% (bar 95%): **${a.pass ? "PASS" : "FAIL"}**.`,
  ].join("\n");
}

const range = (m: MedianIqr, digits: number) => `${m.median.toFixed(digits)} (IQR ${m.iqr.toFixed(digits)}: ${m.q1.toFixed(digits)}-${m.q3.toFixed(digits)})`;

export function table1Markdown(rows: readonly Table1Row[]): string {
  return [
    `| method | score | iterations | time, s |`,
    `| --- | --- | --- | --- |`,
    ...rows.map((r) => `| ${r.method} | ${range(r.score, 4)} | ${range(r.iterations, 0)} | ${range(r.seconds, 1)} |`),
  ].join("\n");
}

export function ablationMarkdown(r: ConceptRecord): string {
  const a = r.ablation!;
  const stats = [...a.statistics];
  const hidden = stats.filter((s) => s.variant !== "none").sort((x, y) => Math.abs(x.earlyLateT) - Math.abs(y.earlyLateT))[0];
  return [
    `Concept ${r.concept}, steps 1-${a.steps}; variance ratio = var(last ${a.window}) / var(all) (DVAR's statistic on the whole series), t = Welch's t of the first tenth against the last tenth, drop = their difference of means.`,
    "",
    `| evaluation batch | variance ratio | t (early vs late) | drop |`,
    `| --- | --- | --- | --- |`,
    ...stats.map((s) => `| ${s.variant === "none" ? "L_det (nothing redrawn)" : `${s.variant} redrawn`} | ${s.varianceRatio.toFixed(3)} | ${s.earlyLateT.toFixed(1)} | ${s.drop.toExponential(2)} |`),
    "",
    hidden ? `Weakest trend (smallest |t|): **${hidden.variant}** redrawn.` : "",
  ].join("\n");
}

export interface StudyReport {
  settings: StudySettings;
  concepts: string[];
  /** Issue 5's bar: on the tuning concepts when the study calibrates DVAR, else on all. */
  acceptance: Acceptance;
  /** The calibration of N and alpha (when asked for) and its held-out concepts' table. */
  calibration?: StudyCalibration;
  heldOutAcceptance?: Acceptance;
  table1: Table1Row[];
  fewIters: FewIters;
  scoreNoise: { medianSd: number; perConcept: Record<string, number> };
  costs: { medianStudyScoreMs: number; medianPaperScoreMs: number; medianWallSeconds: number };
}

export interface JudgedStudy {
  /** The DVAR rule of the acceptance table and what it returns on every concept. */
  dvar: JudgedDvar & { outcomes: MethodOutcome[] };
  /** When DVAR was calibrated: the calibration, and `dvar` is its choice. */
  calibration?: StudyCalibration;
}

export function studyReport(records: readonly ConceptRecord[], fewIters: FewIters, settings: StudySettings, judged: JudgedStudy): StudyReport {
  const c = judged.calibration;
  const subset = (names: readonly string[]) => {
    const picked = records.map((r, i) => [r, judged.dvar.outcomes[i]!] as const).filter(([r]) => names.includes(r.concept));
    return acceptance(picked.map(([r]) => r), { label: judged.dvar.label, outcomes: picked.map(([, o]) => o) }, settings.steps);
  };
  return {
    settings,
    concepts: records.map((r) => r.concept),
    acceptance: c ? subset(c.tuning) : acceptance(records, judged.dvar, settings.steps),
    ...(c ? { calibration: c } : {}),
    ...(c && c.chosen && c.heldOut.length > 0 ? { heldOutAcceptance: subset(c.heldOut) } : {}),
    table1: table1(records, fewIters, c?.chosen ? judged.dvar : undefined),
    fewIters,
    scoreNoise: { medianSd: median(records.map((r) => r.noise.sd)), perConcept: Object.fromEntries(records.map((r) => [r.concept, r.noise.sd])) },
    costs: {
      medianStudyScoreMs: median(records.map((r) => r.costs.studyScoreMs)),
      medianPaperScoreMs: median(records.map((r) => r.costs.paperScoreMs)),
      medianWallSeconds: median(records.map((r) => r.costs.wallSeconds)),
    },
  };
}

export function reportMarkdown(report: StudyReport, records: readonly ConceptRecord[], command: string): string {
  const s = report.settings;
  const ablated = records.find((r) => r.ablation);
  return [
    `# Trajectory study: ${report.concepts.length} concepts, ${s.steps} steps, seed ${s.seed}`,
    "",
    "```sh",
    command,
    "```",
    "",
    `Score: ${s.score.samples} samples of "a photo of a <concept>", ${s.score.steps} DDIM steps, guidance ${s.score.guidance}, sampling seed ${s.score.seed}; every ${s.scoreEvery} steps. ` +
      `Its noise between sampling seeds ${s.score.seed} and ${s.noiseSeed} (rms difference / sqrt 2 at the baseline checkpoints): median ${report.scoreNoise.medianSd.toFixed(4)}. ` +
      `Time charges one score at the paper's settings (${s.paperScore.samples} samples, ${s.paperScore.steps} steps): median ${(report.costs.medianPaperScoreMs / 1000).toFixed(2)} s (the study's own score: ${(report.costs.medianStudyScoreMs / 1000).toFixed(2)} s).`,
    "",
    `## Issue 5: DVAR against the ${s.steps}-step baseline`,
    "",
    ...(report.calibration ? [`Tuning concepts, DVAR calibrated on them (next section):`, ""] : []),
    acceptanceMarkdown(report.acceptance),
    "",
    ...(report.heldOutAcceptance ? ["Held-out concepts, the same N and alpha:", "", acceptanceMarkdown(report.heldOutAcceptance), ""] : []),
    ...(report.calibration ? ["## Calibration of N and alpha", "", calibrationMarkdown(report.calibration), ""] : []),
    "## Table 1",
    "",
    table1Markdown(report.table1),
    "",
    ...(ablated ? ["## Semi-deterministic ablation (section 4.4)", "", ablationMarkdown(ablated), ""] : []),
    "Figures: `figures/<concept>.svg` (training loss, gradient norm, score, L_det per step)" + (ablated ? ", `figures/ablation.svg`" : "") + "; grid: `grid.png`.",
    "",
  ].join("\n");
}
