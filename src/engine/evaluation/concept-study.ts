/**
 * One concept of the trajectory study: ONE deterministic training run to `steps` (the
 * engine's job, same seed, batches and initialisation as `dvar invert`), every step's
 * embedding kept; the score every `scoreEvery` steps; then every method of the paper's
 * Table 1 derived post hoc from that run (src/core/study). Writes the concept's
 * embeddings, its record (JSON, atomically, last) and its Figure-1-style plot.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../../core/io/safetensors.js";
import { CRITERION_PRESETS } from "../../core/stopping/index.js";
import {
  type AblationSeries,
  baselineCheckpoints,
  baselineOutcome,
  clipSOutcome,
  dvarOutcome,
  type MethodOutcome,
  paramsAt,
  perStep,
  recordTrajectory,
  replayRule,
  semiDeterministicAblation,
  type Trajectory,
  type TrendStatistics,
  trendStatistics,
} from "../../core/study/index.js";
import type { LearnedEmbedding } from "../embeddings/index.js";
import { type GeneratedImage, type Generator, openGenerator } from "../generate/pipeline.js";
import { loadTrainingImages } from "../images/index.js";
import { describeInversion, type InversionDescription, inversionRunConfig, type OpenInversion, openInversion } from "../inversion/job.js";
import { openModelFolder } from "../model/folder.js";
import { type ImageScorer, openImageScorer } from "../scoring/image-scorer.js";
import { writeFileAtomic } from "../write-atomic.js";
import { reconstructionScore, type ScoreSettings } from "./reconstruction.js";
import { conceptFigureSvg } from "./study-figure.js";
import { type ConceptInput, conceptSettingsKey, DVAR_PRESETS, type DvarPreset, initializerOf, type StudySettings } from "./study-settings.js";

export const RECORD_VERSION = 1;

export interface ConceptRecord {
  version: typeof RECORD_VERSION;
  settingsKey: string;
  concept: string;
  directory: string;
  token: string;
  initializer: string;
  images: number;
  /** Completed steps (the requested steps unless the run failed). */
  steps: number;
  outcome: string;
  /** Per step, entry s - 1 = step s. */
  series: {
    trainLoss: number[];
    ldet: number[];
    gradNorm: number[];
    trainMs: number[];
    ldetMs: number[];
    dvarRatio: Record<DvarPreset, (number | null)[]>;
  };
  /** The study's score at every scored step (0, every scoreEvery, the DVAR stops), increasing. */
  scores: { step: number[]; score: number[] };
  /** The baseline checkpoints scored with a second sampling seed; sd = rms(a - b) / sqrt(2). */
  noise: { step: number[]; seedA: number[]; seedB: number[]; sd: number };
  /** Wall seconds of the phases (training, ablation, scoring) and of the whole concept. */
  costs: { studyScoreMs: number; paperScoreMs: number; trainSeconds: number; ablationSeconds: number; scoringSeconds: number; wallSeconds: number };
  stops: { clipS: number | null } & Record<DvarPreset, number | null>;
  methods: { baseline: MethodOutcome; clipS: MethodOutcome } & Record<DvarPreset, MethodOutcome>;
  ablation?: { steps: number; window: number; statistics: TrendStatistics[]; series: AblationSeries["series"] };
}

export const conceptFiles = (out: string, name: string) => ({
  record: join(out, "concepts", `${name}.json`),
  /** Scores taken after the record (calibration stops off the cadence), kept for reruns. */
  extraScores: join(out, "concepts", `${name}.extra-scores.json`),
  embeddings: join(out, "concepts", `${name}.embeddings.safetensors`),
  figure: join(out, "figures", `${name}.svg`),
});

/** Score lookup over a record's scored steps; throws for a step that was not scored. */
export function scoreLookup(scores: ConceptRecord["scores"]): (step: number) => number {
  const map = new Map(scores.step.map((s, i) => [s, scores.score[i]!]));
  return (step) => {
    const v = map.get(step);
    if (v === undefined) throw new RangeError(`step ${step} was not scored`);
    return v;
  };
}

/** The embedding after `step` updates, from a concept's embeddings file. */
export async function embeddingFromFile(path: string, step: number): Promise<LearnedEmbedding> {
  const file = decodeSafetensors(new Uint8Array(await readFile(path)));
  const t = file.tensors.params!;
  const [rows, k, h] = t.shape as [number, number, number];
  if (step < 0 || step >= rows) throw new RangeError(`${path} holds steps 0..${rows - 1}, not ${step}`);
  const size = k * h;
  return { token: file.metadata.token!, numVectors: k, hiddenSize: h, vectors: (t.data as Float32Array).slice(step * size, (step + 1) * size), step };
}

/** Scores embeddings of one concept against its training images. */
export interface ConceptScorer {
  score(embedding: LearnedEmbedding, settings: ScoreSettings): Promise<{ score: number; images: GeneratedImage[]; ms: number }>;
  references: GeneratedImage[];
  close(): Promise<void>;
}

export async function openConceptScorer(modelDir: string, description: InversionDescription, threads: number): Promise<ConceptScorer> {
  const folder = openModelFolder(modelDir);
  const generator: Generator = await openGenerator(folder, { threads });
  const scorer: ImageScorer = await openImageScorer(folder, threads);
  const references = await loadTrainingImages(description.images.map((i) => i.path), { resolution: folder.resolution });
  const refEmbeds = await scorer.embed(references.map((r) => r.pixels));
  const side = folder.resolution;
  const toImage = (pixels: Float32Array): GeneratedImage => {
    const rgb = new Uint8Array(3 * side * side);
    for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round((pixels[c * side * side + i]! + 1) * 127.5);
    return { seed: -1, width: side, height: side, rgb };
  };
  return {
    references: references.map((r) => toImage(r.pixels)),
    async score(embedding, settings) {
      const t0 = performance.now();
      const { score, images } = await reconstructionScore(generator, scorer, refEmbeds, embedding, settings);
      return { score, images, ms: performance.now() - t0 };
    },
    async close() {
      await generator.close();
      await scorer.release();
    },
  };
}

export async function describeConcept(concept: ConceptInput, s: StudySettings): Promise<InversionDescription> {
  return describeInversion({ model: s.model, images: concept.dir, token: `<${concept.name}>`, init: initializerOf(concept.dir), seed: s.seed }, { threads: s.threads });
}

/** The concept's one training run, as `dvar invert` would train it (the rule aside). */
export async function trainTrajectory(job: OpenInversion, s: StudySettings, log?: (line: string) => void): Promise<Trajectory> {
  const config = inversionRunConfig(job.description, s.seed, s.steps, { name: "fixed", steps: s.steps });
  return recordTrajectory(job.objective, config, job.initialParams, {
    clock: () => performance.now(),
    onProgress: (step) => step % 500 === 0 && log?.(`step ${step}/${s.steps}`),
  });
}

/** The DVAR ratio of each preset along L_det, and where each first fires. */
export function dvarReplays(ldet: readonly number[]): Record<DvarPreset, { ratio: (number | null)[]; stop: number | null }> {
  const out = {} as Record<DvarPreset, { ratio: (number | null)[]; stop: number | null }>;
  for (const preset of DVAR_PRESETS) {
    const r = replayRule(CRITERION_PRESETS[preset], perStep(ldet));
    out[preset] = { ratio: r.values, stop: r.stopStep };
  }
  return out;
}

export async function studyConcept(concept: ConceptInput, s: StudySettings, out: string, log: (line: string) => void = () => {}): Promise<ConceptRecord> {
  const started = performance.now();
  const say = (line: string) => log(`${concept.name}: ${line}`);
  const description = await describeConcept(concept, s);
  const job = await openInversion(description, s.seed, { threads: s.threads });
  let trajectory: Trajectory;
  let ablation: ConceptRecord["ablation"];
  const phase = { train: 0, ablation: 0, scoring: 0 };
  let t0 = performance.now();
  try {
    trajectory = await trainTrajectory(job, s, say);
    phase.train = (performance.now() - t0) / 1000;
    t0 = performance.now();
    say(`trained ${trajectory.steps} steps${trajectory.outcome.kind === "failed" ? ` (failed: ${trajectory.outcome.reason})` : ""} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (s.ablation.concept === concept.name && s.ablation.steps > 0) {
      const steps = Math.min(s.ablation.steps, trajectory.steps);
      const t = trajectory;
      const series = await semiDeterministicAblation(job.objective, (step) => paramsAt(t, step), steps, { ldet: t.ldet, onProgress: (k) => say(`ablation step ${k}/${steps}`) });
      const window = Math.min(CRITERION_PRESETS.dvar.window, steps);
      ablation = { steps, window, statistics: trendStatistics(series, window), series: series.series };
      phase.ablation = (performance.now() - t0) / 1000;
    }
  } finally {
    await job.close();
  }

  const dvar = dvarReplays(trajectory.ldet);
  const embeddingAt = (step: number): LearnedEmbedding => ({
    token: description.token,
    numVectors: description.numVectors,
    hiddenSize: trajectory.size / description.numVectors,
    vectors: paramsAt(trajectory, step).slice(),
    step,
  });
  t0 = performance.now();
  const scorer = await openConceptScorer(s.model, description, s.threads);
  const scored = new Map<number, number>();
  const scoreMs: number[] = [];
  const noise: ConceptRecord["noise"] = { step: [], seedA: [], seedB: [], sd: NaN };
  let paperScoreMs: number;
  try {
    const toScore = new Set<number>([0]);
    for (let step = s.scoreEvery; step <= trajectory.steps; step += s.scoreEvery) toScore.add(step);
    const checkpoints = baselineCheckpoints(trajectory.steps, s.baselineEvery);
    for (const step of checkpoints) toScore.add(step);
    for (const preset of DVAR_PRESETS) toScore.add(dvar[preset].stop ?? trajectory.steps);
    for (const step of [...toScore].sort((a, b) => a - b)) {
      const r = await scorer.score(embeddingAt(step), s.score);
      scored.set(step, r.score);
      scoreMs.push(r.ms);
      if (step % 1000 === 0) say(`scored step ${step}: ${r.score.toFixed(4)}`);
    }
    for (const step of checkpoints) {
      noise.step.push(step);
      noise.seedA.push(scored.get(step)!);
      noise.seedB.push((await scorer.score(embeddingAt(step), { ...s.score, seed: s.noiseSeed })).score);
    }
    const squares = noise.seedA.map((a, i) => (a - noise.seedB[i]!) ** 2);
    noise.sd = Math.sqrt(squares.reduce((x, y) => x + y, 0) / squares.length / 2);
    paperScoreMs = (await scorer.score(embeddingAt(0), s.paperScore)).ms;
  } finally {
    await scorer.close();
  }
  phase.scoring = (performance.now() - t0) / 1000;

  const steps = [...scored.keys()].sort((a, b) => a - b);
  const scores = { step: steps, score: steps.map((k) => scored.get(k)!) };
  const scoreAt = scoreLookup(scores);
  const clipS = replayRule(s.clipS, steps.filter((k) => k > 0).map((k) => ({ step: k, value: scored.get(k)! })));
  const costs = { trainMs: trajectory.trainMs, ldetMs: trajectory.ldetMs, scoreMs: paperScoreMs };
  const record: ConceptRecord = {
    version: RECORD_VERSION,
    settingsKey: conceptSettingsKey(s, concept.name),
    concept: concept.name,
    directory: concept.dir,
    token: description.token,
    initializer: description.initializer.token,
    images: description.images.length,
    steps: trajectory.steps,
    outcome: trajectory.outcome.kind === "failed" ? `failed: ${trajectory.outcome.reason}` : "completed",
    series: {
      trainLoss: trajectory.trainLoss,
      ldet: trajectory.ldet,
      gradNorm: trajectory.gradNorm,
      trainMs: trajectory.trainMs,
      ldetMs: trajectory.ldetMs,
      dvarRatio: { dvar: dvar.dvar.ratio, "dvar-paper": dvar["dvar-paper"].ratio },
    },
    scores,
    noise,
    costs: {
      studyScoreMs: scoreMs.reduce((a, b) => a + b, 0) / scoreMs.length,
      paperScoreMs,
      trainSeconds: phase.train,
      ablationSeconds: phase.ablation,
      scoringSeconds: phase.scoring,
      wallSeconds: 0,
    },
    stops: { clipS: clipS.stopStep, dvar: dvar.dvar.stop, "dvar-paper": dvar["dvar-paper"].stop },
    methods: {
      baseline: baselineOutcome(scoreAt, trajectory.steps, s.baselineEvery, costs),
      clipS: clipSOutcome(scoreAt, clipS.stopStep, trajectory.steps, s.scoreEvery, costs),
      dvar: dvarOutcome(scoreAt, dvar.dvar.stop, trajectory.steps, costs),
      "dvar-paper": dvarOutcome(scoreAt, dvar["dvar-paper"].stop, trajectory.steps, costs),
    },
    ...(ablation ? { ablation } : {}),
  };
  const files = conceptFiles(out, concept.name);
  const [k, h] = [description.numVectors, trajectory.size / description.numVectors];
  await writeFileAtomic(
    files.embeddings,
    encodeSafetensors({ params: { dtype: "F32", shape: [trajectory.steps + 1, k, h], data: trajectory.params } }, { token: description.token, seed: String(s.seed) }),
  );
  await writeFileAtomic(files.figure, conceptFigureSvg(record));
  record.costs.wallSeconds = (performance.now() - started) / 1000;
  await writeFileAtomic(files.record, JSON.stringify(record) + "\n");
  say(`done in ${record.costs.wallSeconds.toFixed(0)} s: DVAR stops ${record.stops.dvar ?? "none"} / ${record.stops["dvar-paper"] ?? "none"}, CLIP-s ${record.stops.clipS ?? "none"}`);
  return record;
}

/** The record of a finished concept made with these settings, or null if there is none; throws if it was made with other settings. */
export async function readFinishedRecord(out: string, name: string, s: StudySettings): Promise<ConceptRecord | null> {
  let text: string;
  try {
    text = await readFile(conceptFiles(out, name).record, "utf8");
  } catch {
    return null;
  }
  const record = JSON.parse(text) as ConceptRecord;
  if (record.version !== RECORD_VERSION || record.settingsKey !== conceptSettingsKey(s, name)) {
    throw new Error(`${conceptFiles(out, name).record} was made with other settings; use another --out or delete it`);
  }
  return record;
}
