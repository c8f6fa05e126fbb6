/**
 * The vocabulary token whose embedding starts a concept: a one-token initializer word
 * (diffusers' rule), or a random vocabulary token drawn from the job's counter-based RNG
 * (the paper's "random" strategy, section 4.4). The CLIP-scored "best" token needs the
 * image-text scorer and lives with it.
 */
import { integers, RngStream } from "../../core/rng/stream.js";
import { type ClipTokenizer, TokenizerError } from "./clip-tokenizer.js";

export type InitializerSpec = { kind: "word"; word: string } | { kind: "random"; seed: number };

export interface InitializerToken {
  id: number;
  /** The vocabulary entry, e.g. "toy</w>". */
  token: string;
}

/** The single token `word` encodes to; refuses words of zero or several tokens, and placeholders. */
export function initializerFromWord(tokenizer: ClipTokenizer, word: string): InitializerToken {
  const ids = tokenizer.tokenize(word);
  if (ids.length !== 1) {
    const pieces = ids.map((id) => tokenizer.tokenOf(id)).join(" ");
    throw new TokenizerError(
      ids.length === 0
        ? `the initializer word ${JSON.stringify(word)} encodes to no token`
        : `the initializer word ${JSON.stringify(word)} must be a single token, it encodes to ${ids.length} (${pieces}); choose a one-token word or use a random token`,
    );
  }
  const id = ids[0]!;
  if (id >= tokenizer.baseVocabSize) throw new TokenizerError(`the initializer ${JSON.stringify(word)} is a placeholder, not a vocabulary word`);
  if (tokenizer.specialIds.has(id)) throw new TokenizerError(`the initializer ${JSON.stringify(word)} is a special token`);
  return { id, token: tokenizer.tokenOf(id)! };
}

/**
 * A vocabulary token drawn uniformly from the base vocabulary minus its special tokens,
 * at address (seed, init stream, step 0): the same seed always picks the same token.
 */
export function initializerFromRandomToken(tokenizer: ClipTokenizer, seed: number): InitializerToken {
  const eligible: number[] = [];
  for (let id = 0; id < tokenizer.baseVocabSize; id++) {
    if (!tokenizer.specialIds.has(id) && tokenizer.tokenOf(id) !== undefined) eligible.push(id);
  }
  if (eligible.length === 0) throw new TokenizerError("the vocabulary has no ordinary token to draw");
  const index = integers({ seed, stream: RngStream.init, step: 0 }, 1, eligible.length)[0]!;
  const id = eligible[index]!;
  return { id, token: tokenizer.tokenOf(id)! };
}

export function resolveInitializer(tokenizer: ClipTokenizer, spec: InitializerSpec): InitializerToken {
  return spec.kind === "word" ? initializerFromWord(tokenizer, spec.word) : initializerFromRandomToken(tokenizer, spec.seed);
}
