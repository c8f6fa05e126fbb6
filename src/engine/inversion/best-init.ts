/**
 * The "best" initialisation (paper, section 4.4), with the model folder's image scorer:
 * the paper scores every vocabulary token by CLIP text-to-image similarity with the
 * training images; a scorer that embeds images only cannot read text, so each candidate
 * word is scored by drawing `samples` images of the first caption template with that word
 * and taking their mean cosine similarity to the training images. Candidates: the
 * vocabulary's whole words (tokens "<letters></w>", at least two letters). Cost: one
 * generation of `steps` sampler steps per candidate, done once per job (the description
 * records the winner, so a resume does not repeat it).
 */
import type { TrainingImage } from "../images/index.js";
import { templatesFor, type LearnableProperty } from "../captions.js";
import { openGenerator } from "../generate/pipeline.js";
import type { ModelFolder } from "../model/folder.js";
import { meanPairwiseCosine, openImageScorer, rgbToUnitChw } from "../scoring/image-scorer.js";
import type { ClipTokenizer, InitializerToken } from "../tokenizer/index.js";

export interface BestInitOptions {
  property: LearnableProperty;
  seed: number;
  /** Images drawn per candidate (default 2). */
  samples?: number;
  /** Sampler steps per image (default 10). */
  steps?: number;
  threads?: number;
}

export interface CandidateScore {
  id: number;
  token: string;
  word: string;
  score: number;
}

/** The vocabulary's whole-word tokens ("cat</w>"), in id order. */
export function candidateWords(tokenizer: ClipTokenizer): Array<{ id: number; token: string; word: string }> {
  const out = [];
  for (let id = 0; id < tokenizer.baseVocabSize; id++) {
    const token = tokenizer.tokenOf(id);
    const match = token === undefined || tokenizer.specialIds.has(id) ? null : /^([a-z]{2,})<\/w>$/.exec(token);
    if (match) out.push({ id, token: token!, word: match[1]! });
  }
  return out;
}

export async function bestInitializer(
  folder: ModelFolder,
  tokenizer: ClipTokenizer,
  references: readonly TrainingImage[],
  options: BestInitOptions,
): Promise<{ best: InitializerToken; scores: CandidateScore[] }> {
  const candidates = candidateWords(tokenizer);
  if (candidates.length === 0) throw new Error("the vocabulary has no whole-word tokens to score");
  const template = templatesFor(options.property)[0]!;
  const threads = options.threads ?? 0;
  const scorer = await openImageScorer(folder, threads);
  const generator = await openGenerator(folder, { threads });
  try {
    const referenceEmbeds = await scorer.embed(references.map((r) => r.pixels));
    const scores: CandidateScore[] = [];
    for (const c of candidates) {
      const { images } = await generator.generate({ prompt: template.split("{}").join(c.word), n: options.samples ?? 2, steps: options.steps ?? 10, seed: options.seed });
      const score = meanPairwiseCosine(await scorer.embed(images.map(rgbToUnitChw)), referenceEmbeds);
      scores.push({ ...c, score });
    }
    const top = scores.reduce((a, b) => (b.score > a.score ? b : a));
    return { best: { id: top.id, token: top.token }, scores };
  } finally {
    await scorer.release();
    await generator.close();
  }
}
