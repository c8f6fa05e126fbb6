/** Placeholder tokens for a k-vector concept, named as diffusers' `num_vectors` names them. */
import { placeholderString } from "../captions.js";
import { type ClipTokenizer, TokenizerError } from "./clip-tokenizer.js";

export interface Placeholder {
  /** "<tok>", "<tok>_1", ..., "<tok>_{k-1}". */
  tokens: string[];
  /** Their ids, consecutive: the first is the tokenizer's base vocabulary size for a first concept. */
  ids: number[];
  /** The text that stands for the concept in prompts: the tokens joined by spaces. */
  text: string;
}

export const MAX_VECTORS = 64;

export function placeholderTokenNames(placeholder: string, numVectors: number): string[] {
  if (!Number.isInteger(numVectors) || numVectors < 1 || numVectors > MAX_VECTORS) {
    throw new TokenizerError(`the number of vectors must be an integer in [1, ${MAX_VECTORS}], got ${numVectors}`);
  }
  return [placeholder, ...Array.from({ length: numVectors - 1 }, (_, i) => `${placeholder}_${i + 1}`)];
}

/** Adds the concept's k tokens; refuses any that the vocabulary already holds. */
export function addPlaceholder(tokenizer: ClipTokenizer, placeholder: string, numVectors = 1): { tokenizer: ClipTokenizer; placeholder: Placeholder } {
  const tokens = placeholderTokenNames(placeholder, numVectors);
  const extended = tokenizer.withAddedTokens(tokens);
  const ids = tokens.map((t) => extended.idOf(t)!);
  return { tokenizer: extended, placeholder: { tokens, ids, text: placeholderString(tokens) } };
}
