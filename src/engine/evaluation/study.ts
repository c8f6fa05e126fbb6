/**
 * The trajectory study (`dvar evaluate`): per concept one recorded run and its scores
 * (concept-study.ts; in this process, or in `jobs` child processes at once), skipping
 * concepts already finished with the same settings; then the cross-concept part: the
 * paper's Few iters (max and mean of the CLIP-s stops), the image grid, the tables.
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CalibrationRule,
  DEFAULT_CALIBRATION_GRID,
  DEFAULT_CALIBRATION_RULE,
  dvarOutcome,
  type DvarCandidate,
  fewItersOutcome,
  fewItersSteps,
  type MethodOutcome,
} from "../../core/study/index.js";
import { calibrateStudy, type StudyCalibration } from "./calibration.js";
import { CRITERION_PRESETS } from "../../core/stopping/index.js";
import { writeFileAtomic } from "../write-atomic.js";
import { conceptFiles, type ConceptRecord, describeConcept, embeddingFromFile, openConceptScorer, readFinishedRecord, scoreLookup, studyConcept } from "./concept-study.js";
import type { WorkerTask } from "./concept-worker.js";
import { type ConceptSamples, conceptGridPng } from "./grid.js";
import { ablationFigureSvg } from "./study-figure.js";
import { type FewIters, type JudgedStudy, reportMarkdown, type StudyReport, studyReport } from "./study-report.js";
import type { ConceptInput, DvarPreset, StudySettings } from "./study-settings.js";

export interface StudyOptions {
  concepts: readonly ConceptInput[];
  settings: StudySettings;
  out: string;
  /** The DVAR preset of issue 5's table and the grid (unless `calibrate` picks N and alpha). */
  preset: DvarPreset;
  /**
   * Calibrate DVAR's N and alpha on these concepts (the tuning set; the others are held
   * out) and judge issue 5's bar with the chosen values on them.
   */
  calibrate?: { tuning: readonly string[]; grid?: readonly DvarCandidate[]; rule?: Partial<CalibrationRule> };
  /** Concepts studied at once, each in its own process (1: in this process). */
  jobs: number;
  /** The command line, for the report. */
  command: string;
  log?: (line: string) => void;
  /** The child-process entry (default: the built concept-worker.js beside this module). */
  workerPath?: string;
}

export interface StudyResult {
  report: StudyReport;
  records: ConceptRecord[];
  /** Paths written. */
  files: string[];
}

function runInWorker(workerPath: string, task: WorkerTask): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(workerPath, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("error", reject);
    child.on("exit", (code, signal) => (code === 0 ? resolve() : reject(new Error(`${task.concept.name}: worker exited with ${signal ?? `code ${code}`}`))));
    child.send(task);
  });
}

/** Runs `tasks` with at most `jobs` at once; every task runs even if another fails; throws the failures at the end. */
async function pool<T>(items: readonly T[], jobs: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const failures: string[] = [];
  const lane = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await run(item).catch((error: unknown) => failures.push(error instanceof Error ? error.message : String(error)));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, lane));
  if (failures.length > 0) throw new Error(`${failures.length} concept(s) failed (finished ones are kept):\n${failures.join("\n")}`);
}

async function studyAll(o: StudyOptions): Promise<void> {
  const log = o.log ?? (() => {});
  const pending: ConceptInput[] = [];
  for (const c of o.concepts) {
    if (await readFinishedRecord(o.out, c.name, o.settings)) log(`${c.name}: finished earlier, skipped`);
    else pending.push(c);
  }
  if (o.jobs <= 1) {
    await pool(pending, 1, async (c) => void (await studyConcept(c, o.settings, o.out, log)));
    return;
  }
  const workerPath = o.workerPath ?? fileURLToPath(new URL("./concept-worker.js", import.meta.url));
  if (!existsSync(workerPath)) throw new Error(`--jobs needs the built worker ${workerPath} (run npm run build)`);
  await pool(pending, o.jobs, (c) => runInWorker(workerPath, { concept: c, settings: o.settings, out: o.out }));
}

/** Few iters and the grid's samples: the scores they need that the concept runs did not take. */
async function crossConcept(o: StudyOptions, records: readonly ConceptRecord[], dvarSteps: readonly number[]): Promise<{ fewIters: FewIters; grid: Array<{ name: string; samples: ConceptSamples }> }> {
  const steps = fewItersSteps(records.map((r) => r.methods.clipS.step));
  const fewIters: FewIters = { steps, max: [], mean: [] };
  const grid: Array<{ name: string; samples: ConceptSamples }> = [];
  for (const [i, r] of records.entries()) {
    const concept = o.concepts[i]!;
    const description = await describeConcept(concept, o.settings);
    const scorer = await openConceptScorer(o.settings.model, description, o.settings.threads);
    const embeddings = conceptFiles(o.out, r.concept).embeddings;
    try {
      const known = scoreLookup(r.scores);
      const scoreAt = async (step: number) => {
        try {
          return known(step);
        } catch {
          return (await scorer.score(await embeddingFromFile(embeddings, step), o.settings.score)).score;
        }
      };
      const costs = { trainMs: r.series.trainMs, ldetMs: r.series.ldetMs, scoreMs: r.costs.paperScoreMs };
      const outcome = async (step: number): Promise<MethodOutcome> => {
        const value = await scoreAt(Math.min(step, r.steps));
        return fewItersOutcome(() => value, Math.min(step, r.steps), costs);
      };
      fewIters.max.push(await outcome(steps.max));
      fewIters.mean.push(await outcome(steps.mean));
      const images = async (step: number) => (await scorer.score(await embeddingFromFile(embeddings, step), o.settings.score)).images;
      grid.push({
        name: r.concept,
        samples: { references: scorer.references, init: await images(0), dvar: await images(dvarSteps[i]!), baseline: await images(r.methods.baseline.bestStep!) },
      });
    } finally {
      await scorer.close();
    }
  }
  return { fewIters, grid };
}

/**
 * Scores chosen steps of a concept's recorded embeddings with the study's score, keeping
 * them in the concept's extra-scores file (keyed by the record's settings) so a rerun
 * reuses them.
 */
function scoreStepsOf(o: StudyOptions, records: readonly ConceptRecord[]) {
  return async (name: string, steps: readonly number[]): Promise<Map<number, number>> => {
    const record = records.find((r) => r.concept === name)!;
    const path = conceptFiles(o.out, name).extraScores;
    let kept: Record<string, number> = {};
    try {
      const file = JSON.parse(await readFile(path, "utf8")) as { settingsKey: string; scores: Record<string, number> };
      if (file.settingsKey === record.settingsKey) kept = file.scores;
    } catch {
      // none yet (or unreadable): score afresh
    }
    const todo = steps.filter((s) => kept[String(s)] === undefined);
    if (todo.length > 0) {
      const concept = o.concepts.find((c) => c.name === name)!;
      const scorer = await openConceptScorer(o.settings.model, await describeConcept(concept, o.settings), o.settings.threads);
      try {
        for (const step of todo) kept[String(step)] = (await scorer.score(await embeddingFromFile(conceptFiles(o.out, name).embeddings, step), o.settings.score)).score;
      } finally {
        await scorer.close();
      }
      await writeFileAtomic(path, JSON.stringify({ settingsKey: record.settingsKey, scores: kept }) + "\n");
    }
    o.log?.(`${name}: ${todo.length} more steps scored for the calibration (${steps.length - todo.length} kept from an earlier run)`);
    return new Map(steps.map((s) => [s, kept[String(s)]!]));
  };
}

/** The DVAR rule the report judges: the calibrated one when asked for (and one was feasible), else the preset. */
async function judgedDvar(o: StudyOptions, records: readonly ConceptRecord[]): Promise<JudgedStudy> {
  const preset = { label: `${o.preset} (N=${CRITERION_PRESETS[o.preset].window}, alpha=${CRITERION_PRESETS[o.preset].threshold})`, outcomes: records.map((r) => r.methods[o.preset]) };
  if (!o.calibrate) return { dvar: preset };
  const rule = { ...DEFAULT_CALIBRATION_RULE, steps: o.settings.steps, ...o.calibrate.rule };
  const calibration: StudyCalibration = await calibrateStudy(records, o.calibrate.tuning, o.calibrate.grid ?? DEFAULT_CALIBRATION_GRID, rule, scoreStepsOf(o, records));
  const chosen = calibration.chosen;
  if (!chosen) return { dvar: preset, calibration };
  const outcomes = [...chosen.concepts, ...(calibration.heldOutOutcome?.concepts ?? [])];
  return {
    calibration,
    dvar: {
      label: `calibrated (N=${chosen.window}, alpha=${chosen.threshold})`,
      outcomes: records.map((r) => {
        const k = outcomes.find((x) => x.concept === r.concept)!;
        const costs = { trainMs: r.series.trainMs, ldetMs: r.series.ldetMs, scoreMs: r.costs.paperScoreMs };
        return dvarOutcome(() => k.score, k.stopped ? k.step : null, r.steps, costs);
      }),
    },
  };
}

export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  if (o.concepts.length === 0) throw new Error("no concepts to study");
  await studyAll(o);
  const records: ConceptRecord[] = [];
  for (const c of o.concepts) records.push((await readFinishedRecord(o.out, c.name, o.settings))!);
  o.log?.("all concepts finished: calibration, Few iters, grid and tables");
  const judged = await judgedDvar(o, records);
  const { fewIters, grid } = await crossConcept(o, records, judged.dvar.outcomes.map((x) => x.step));
  const report = studyReport(records, fewIters, o.settings, judged);
  const files: Array<[string, string | Uint8Array]> = [
    [join(o.out, "study.json"), JSON.stringify(report, null, 2) + "\n"],
    [join(o.out, "report.md"), reportMarkdown(report, records, o.command)],
    [join(o.out, "grid.png"), await conceptGridPng(grid)],
  ];
  const ablated = records.find((r) => r.ablation);
  if (ablated) files.push([join(o.out, "figures", "ablation.svg"), ablationFigureSvg(ablated)]);
  for (const [path, data] of files) await writeFileAtomic(path, data);
  return { report, records, files: files.map(([p]) => p) };
}
