/**
 * The paper's reconstruction score with the model's own scorer: draw `samples` images of
 * "a photo of a <token>" (50 sampler steps, guidance 7.5, a fixed seed, as the paper's
 * CLIP image score) and take the mean cosine similarity of their scorer embeddings to the
 * training images' embeddings.
 */
import { templatesFor, type LearnableProperty } from "../captions.js";
import type { LearnedEmbedding } from "../embeddings/index.js";
import type { GeneratedImage, Generator } from "../generate/pipeline.js";
import { type ImageScorer, meanPairwiseCosine, rgbToUnitChw } from "../scoring/image-scorer.js";

export interface ScoreSettings {
  samples: number;
  steps: number;
  guidance: number;
  seed: number;
  property: LearnableProperty;
}

export const PAPER_SCORE_SETTINGS: ScoreSettings = { samples: 8, steps: 50, guidance: 7.5, seed: 0, property: "object" };

export async function reconstructionScore(
  generator: Generator,
  scorer: ImageScorer,
  referenceEmbeds: readonly Float32Array[],
  embedding: LearnedEmbedding,
  settings: ScoreSettings,
): Promise<{ score: number; images: GeneratedImage[] }> {
  const prompt = templatesFor(settings.property)[0]!.split("{}").join(embedding.token);
  const { images } = await generator.generate({ prompt, embedding, n: settings.samples, steps: settings.steps, guidance: settings.guidance, seed: settings.seed });
  return { score: meanPairwiseCosine(await scorer.embed(images.map(rgbToUnitChw)), referenceEmbeds), images };
}
