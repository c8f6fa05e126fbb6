/**
 * What a finished (or interrupted) inversion leaves in its folder: the embedding in the
 * diffusers layout (learned_embeds.safetensors), the A1111-readable safetensors and A1111's
 * own .pt (both named after the token, as A1111 calls an embedding by its file name), and
 * the histories as JSON, CSV and an SVG plot.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { InversionState } from "../../core/inversion/index.js";
import { a1111EmbeddingName } from "../embeddings/a1111-name.js";
import { encodeA1111Embedding, encodeA1111PtEmbedding, encodeDiffusersEmbedding, type LearnedEmbedding } from "../embeddings/index.js";
import { type StepHistories, type StopSummary, writeHistoryOutputs } from "../report/index.js";

export const DIFFUSERS_EMBEDDING_FILE = "learned_embeds.safetensors";

export function embeddingOf(state: InversionState, token: string, numVectors: number): LearnedEmbedding {
  return { token, numVectors, hiddenSize: state.params.length / numVectors, vectors: state.params, step: state.step };
}

const orNull = (x: number) => (Number.isFinite(x) ? x : null);

export function stepHistories(state: InversionState): StepHistories {
  const h = state.history;
  let wall = 0;
  return {
    step: h.trainLoss.map((_, i) => i + 1),
    trainLoss: h.trainLoss.map(orNull),
    lDet: h.ldet.map(orNull),
    dvarRatio: state.config.stop.name === "dvar" ? h.criterion.map(orNull) : h.criterion.map(() => null),
    gradNorm: h.gradNorm.map(orNull),
    wallTime: h.wallMs.map((ms) => (wall += ms) / 1000),
  };
}

export function stopSummary(state: InversionState): StopSummary {
  const stop = state.config.stop as { name: string; window?: number; threshold?: number };
  const summary: StopSummary = { stopStep: state.finished?.kind === "converged" ? state.finished.step : null };
  if (stop.name === "dvar") {
    if (stop.threshold !== undefined) summary.alpha = stop.threshold;
    if (stop.window !== undefined) summary.window = stop.window;
  }
  if (state.finished) summary.reason = state.finished.kind === "failed" ? state.finished.reason : state.finished.kind;
  return summary;
}

/** Writes the three embedding files and the three history files; returns their paths. */
export async function writeInversionOutputs(dir: string, state: InversionState, token: string, numVectors: number): Promise<string[]> {
  const embedding = embeddingOf(state, token, numVectors);
  const a1111Name = a1111EmbeddingName(token);
  const diffusers = join(dir, DIFFUSERS_EMBEDDING_FILE);
  const a1111 = join(dir, `${a1111Name}.safetensors`);
  const a1111Pt = join(dir, `${a1111Name}.pt`);
  await writeFile(diffusers, encodeDiffusersEmbedding(embedding));
  await writeFile(a1111, encodeA1111Embedding({ ...embedding, token: a1111Name }));
  await writeFile(a1111Pt, encodeA1111PtEmbedding({ ...embedding, token: a1111Name }));
  const histories = await writeHistoryOutputs(dir, stepHistories(state), stopSummary(state), { title: `${token}: ${state.config.stop.name}` });
  return [diffusers, a1111, a1111Pt, ...histories];
}
