/**
 * The model's CLIP tokenizer (through @huggingface/tokenizers, pure JavaScript, no
 * network), with textual-inversion placeholder tokens on top.
 *
 * Ids: the base vocabulary holds ids 0..V-1 (V = `baseVocabSize`, the text encoder's
 * embedding rows); placeholder tokens get V, V+1, ... in the order they are added, so an
 * id >= V selects concept row id - V (the gradient compiler's convention).
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { specialToken, TokenizerFilesError } from "./clip-json.js";

export class TokenizerError extends Error {
  override name = "TokenizerError";
}

/** What a tokenizer folder holds, parsed: tokenizer.json and tokenizer_config.json. */
export interface ClipTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export interface EncodedPrompt {
  /** BOS, the text's tokens, EOS, then padding: exactly `maxLength` ids. */
  ids: Int32Array;
  /** Ids before padding (BOS and EOS included). */
  length: number;
  /** True when the text had more than maxLength - 2 tokens and its tail was dropped. */
  truncated: boolean;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/** CLIP's context is 77; configs without a sane model_max_length (HF writes 1e30 when unset) get that. */
function maxLengthOf(config: Record<string, unknown>): number {
  const value = config.model_max_length;
  return typeof value === "number" && Number.isInteger(value) && value >= 3 && value <= 4096 ? value : 77;
}

/** CLIP's normaliser on a whitespace-free token: NFC, then lowercase. */
function normalizedForm(token: string): string {
  return token.normalize("NFC").toLowerCase();
}

export class ClipTokenizer {
  readonly baseVocabSize: number;
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Placeholder tokens added so far, in id order (id = baseVocabSize + index). */
  readonly addedTokens: readonly string[];
  /** Ids of the base vocabulary's special tokens (BOS, EOS, ...). */
  readonly specialIds: ReadonlySet<number>;
  private readonly tokenizer: Tokenizer;

  private constructor(private readonly files: ClipTokenizerFiles, addedTokens: readonly string[], baseVocabSize?: number) {
    const json = files.tokenizerJson;
    const model = json.model as { vocab?: unknown } | undefined;
    if (typeof model !== "object" || model === null || typeof model.vocab !== "object" || model.vocab === null) {
      throw new TokenizerFilesError("tokenizer.json has no model.vocab");
    }
    const baseAdded = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as AddedTokenJson[];
    const ids = [...Object.values(model.vocab as Record<string, number>), ...baseAdded.map((t) => t.id)];
    this.baseVocabSize = baseVocabSize ?? ids.reduce((a, b) => Math.max(a, b), -1) + 1;
    this.specialIds = new Set(baseAdded.filter((t) => t.special).map((t) => t.id));
    this.addedTokens = Object.freeze([...addedTokens]);

    // Placeholders are matched in the normalised (lowercased) text, as a fast tokenizer's
    // added tokens are: "<Cat-Toy>" and "<cat-toy>" are one token. Like every added token
    // they match anywhere, also inside a word, so placeholders should look like "<name>".
    const placeholderEntries = addedTokens.map((content, i) => ({
      id: this.baseVocabSize + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: false,
    }));
    try {
      this.tokenizer = new Tokenizer({ ...json, added_tokens: [...baseAdded, ...placeholderEntries] }, files.tokenizerConfig);
    } catch (error) {
      throw new TokenizerFilesError(`tokenizer.json cannot be loaded: ${(error as Error).message}`);
    }

    const config = files.tokenizerConfig;
    this.maxLength = maxLengthOf(config);
    this.bosId = this.requireId(specialToken(config, "bos_token", "<|startoftext|>"), "bos_token");
    this.eosId = this.requireId(specialToken(config, "eos_token", "<|endoftext|>"), "eos_token");
    // SD 1.x pads with <|endoftext|>; SD 2.x configs name "!" (id 0).
    this.padId = this.requireId(specialToken(config, "pad_token", "<|endoftext|>"), "pad_token");
  }

  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    return new ClipTokenizer(files, []);
  }

  private requireId(token: string, field: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new TokenizerFilesError(`the ${field} ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }

  /** The id of a vocabulary or placeholder token (e.g. "cat</w>", "<cat-toy>"), or undefined. */
  idOf(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  tokenOf(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** The text's token ids: no BOS/EOS, no truncation. */
  tokenize(text: string): number[] {
    if (typeof text !== "string") throw new TokenizerError("text to tokenize must be a string");
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** CLIP input ids: BOS + at most maxLength - 2 tokens + EOS, padded with the pad token. */
  encode(text: string): EncodedPrompt {
    const tokens = this.tokenize(text);
    const room = this.maxLength - 2;
    const kept = tokens.length > room ? tokens.slice(0, room) : tokens;
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    ids[0] = this.bosId;
    ids.set(kept, 1);
    ids[kept.length + 1] = this.eosId;
    return { ids, length: kept.length + 2, truncated: tokens.length > room };
  }

  /** Several prompts as one [count, maxLength] row-major batch. */
  encodeBatch(texts: readonly string[]): Int32Array {
    const out = new Int32Array(texts.length * this.maxLength);
    texts.forEach((text, i) => out.set(this.encode(text).ids, i * this.maxLength));
    return out;
  }

  /**
   * A tokenizer that also knows these tokens, given ids baseVocabSize + (already added) + i.
   * Refuses a token that already exists (vocabulary, special or placeholder, also once
   * lowercased), as diffusers refuses an existing token.
   */
  withAddedTokens(tokens: readonly string[]): ClipTokenizer {
    const seen = new Set(this.addedTokens.map(normalizedForm));
    for (const token of tokens) {
      if (typeof token !== "string" || token.length === 0 || /\s/.test(token)) {
        throw new TokenizerError(`placeholder token ${JSON.stringify(token)} must be non-empty and contain no whitespace`);
      }
      const normalized = normalizedForm(token);
      if (this.idOf(token) !== undefined || this.idOf(normalized) !== undefined || seen.has(normalized)) {
        throw new TokenizerError(`the tokenizer already contains the token ${JSON.stringify(token)}: choose a placeholder that is not in the vocabulary`);
      }
      seen.add(normalized);
    }
    return new ClipTokenizer(this.files, [...this.addedTokens, ...tokens], this.baseVocabSize);
  }
}
