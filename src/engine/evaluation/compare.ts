/**
 * DVAR against the paper's baseline on one concept (issue 5's acceptance, paper Table 1):
 *   baseline: `baselineSteps` (6100) steps, scored every `scoreEvery` (500) steps, the best
 *             scoring checkpoint kept;
 *   DVAR:     the same job (same seed, batches, initialisation) stopped by DVAR, scored at the stop.
 * Both run in slices exactly as `dvar invert` does.
 */
import { createInitialState, type InversionState, runSlice } from "../../core/inversion/index.js";
import { CRITERION_PRESETS } from "../../core/stopping/index.js";
import type { LearnedEmbedding } from "../embeddings/index.js";
import type { GeneratedImage, Generator } from "../generate/pipeline.js";
import { loadTrainingImages } from "../images/index.js";
import { effectiveLearningRate, type InversionDescription, openInversion } from "../inversion/job.js";
import type { ModelFolder } from "../model/folder.js";
import type { ImageScorer } from "../scoring/image-scorer.js";
import { reconstructionScore, type ScoreSettings } from "./reconstruction.js";

export interface ComparisonSettings {
  baselineSteps: number;
  scoreEvery: number;
  dvar: "dvar" | "dvar-paper";
  score: ScoreSettings;
  threads: number;
  seed: number;
  /** Called with a line of progress now and then. */
  log?: (line: string) => void;
}

export interface ConceptResult {
  concept: string;
  initializer: string;
  dvarSteps: number;
  dvarStopped: boolean;
  dvarScore: number;
  dvarSeconds: number;
  baselineBestStep: number;
  baselineScore: number;
  baselineSeconds: number;
  initScore: number;
}

/** Images for the grid: the references and the samples each embedding was scored with. */
export interface ConceptSamples {
  references: GeneratedImage[];
  init: GeneratedImage[];
  dvar: GeneratedImage[];
  baseline: GeneratedImage[];
}

function embeddingOf(d: InversionDescription, params: Float32Array, step: number): LearnedEmbedding {
  return { token: d.token, numVectors: d.numVectors, hiddenSize: params.length / d.numVectors, vectors: params, step };
}

export async function compareOnConcept(
  name: string,
  folder: ModelFolder,
  description: InversionDescription,
  generator: Generator,
  scorer: ImageScorer,
  s: ComparisonSettings,
): Promise<{ result: ConceptResult; samples: ConceptSamples }> {
  const job = await openInversion(description, s.seed, { threads: s.threads });
  const references = await loadTrainingImages(description.images.map((i) => i.path), { resolution: folder.resolution });
  const refEmbeds = await scorer.embed(references.map((r) => r.pixels));
  const score = (params: Float32Array, step: number) => reconstructionScore(generator, scorer, refEmbeds, embeddingOf(description, params, step), s.score);
  const config = (stop: object) => ({
    seed: s.seed,
    maxSteps: s.baselineSteps,
    learningRate: effectiveLearningRate(description),
    stop: stop as never,
    objective: description as never,
  });
  const clock = () => performance.now();
  try {
    const init = await score(job.initialParams, 0);

    let t0 = performance.now();
    let dvar: InversionState = createInitialState(config(CRITERION_PRESETS[s.dvar]), job.initialParams);
    while (!dvar.finished) dvar = (await runSlice(dvar, { objective: job.objective, budget: { maxSteps: 100 }, clock })).state;
    const dvarSeconds = (performance.now() - t0) / 1000;
    const dvarScored = await score(dvar.params, dvar.step);
    s.log?.(`${name}: DVAR stopped at ${dvar.step} (${dvar.finished.kind}), score ${dvarScored.score.toFixed(4)}`);

    t0 = performance.now();
    let base: InversionState = createInitialState(config({ name: "fixed", steps: s.baselineSteps }), job.initialParams);
    let best: { step: number; score: number; images: GeneratedImage[] } = { step: 0, score: -Infinity, images: [] };
    let scoring = 0;
    while (!base.finished) {
      base = (await runSlice(base, { objective: job.objective, budget: { maxSteps: s.scoreEvery }, clock })).state;
      const t1 = performance.now();
      const value = await score(base.params, base.step);
      scoring += performance.now() - t1;
      if (value.score > best.score) best = { step: base.step, ...value };
      s.log?.(`${name}: baseline step ${base.step}, score ${value.score.toFixed(4)}`);
    }
    const result: ConceptResult = {
      concept: name,
      initializer: description.initializer.token,
      dvarSteps: dvar.step,
      dvarStopped: dvar.finished.kind === "converged",
      dvarScore: dvarScored.score,
      dvarSeconds,
      baselineBestStep: best.step,
      baselineScore: best.score,
      baselineSeconds: (performance.now() - t0 - scoring) / 1000,
      initScore: init.score,
    };
    const side = folder.resolution;
    const toImage = (pixels: Float32Array): GeneratedImage => {
      const rgb = new Uint8Array(3 * side * side);
      for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round((pixels[c * side * side + i]! + 1) * 127.5);
      return { seed: -1, width: side, height: side, rgb };
    };
    return { result, samples: { references: references.map((r) => toImage(r.pixels)), init: init.images, dvar: dvarScored.images, baseline: best.images } };
  } finally {
    await job.close();
  }
}

const median = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
};

export interface ComparisonSummary {
  medianDvarSteps: number;
  maxDvarSteps: number;
  medianDvarScore: number;
  medianBaselineScore: number;
  /** median DVAR score / median baseline score. */
  scoreRatio: number;
  /** Issue 5: every DVAR run within 15% of the baseline's steps, median score >= 95% of the baseline's. */
  accepted: boolean;
}

export function summarise(results: readonly ConceptResult[], baselineSteps: number): ComparisonSummary {
  const medianDvarScore = median(results.map((r) => r.dvarScore));
  const medianBaselineScore = median(results.map((r) => r.baselineScore));
  const maxDvarSteps = Math.max(...results.map((r) => r.dvarSteps));
  const scoreRatio = medianDvarScore / medianBaselineScore;
  return {
    medianDvarSteps: median(results.map((r) => r.dvarSteps)),
    maxDvarSteps,
    medianDvarScore,
    medianBaselineScore,
    scoreRatio,
    accepted: maxDvarSteps <= 0.15 * baselineSteps && scoreRatio >= 0.95,
  };
}

export function markdownTable(results: readonly ConceptResult[], summary: ComparisonSummary, baselineSteps: number): string {
  const f = (x: number) => x.toFixed(4);
  const rows = results.map(
    (r) =>
      `| ${r.concept} | ${r.initializer} | ${f(r.initScore)} | ${r.dvarSteps}${r.dvarStopped ? "" : " (cap)"} | ${(100 * r.dvarSteps / baselineSteps).toFixed(1)}% | ${f(r.dvarScore)} | ${r.dvarSeconds.toFixed(0)} | ${r.baselineBestStep} | ${f(r.baselineScore)} | ${r.baselineSeconds.toFixed(0)} |`,
  );
  return [
    `| concept | init token | init score | DVAR steps | of baseline | DVAR score | DVAR s | baseline best step | baseline score | baseline train s |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...rows,
    "",
    `Median DVAR steps ${summary.medianDvarSteps} (max ${summary.maxDvarSteps}, limit ${0.15 * baselineSteps}); median score DVAR ${f(summary.medianDvarScore)} vs baseline ${f(summary.medianBaselineScore)} = ${(100 * summary.scoreRatio).toFixed(1)}% (limit 95%): ${summary.accepted ? "ACCEPTED" : "NOT accepted"}.`,
  ].join("\n");
}
