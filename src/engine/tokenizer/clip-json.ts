/**
 * A `tokenizer.json` for a CLIP BPE tokenizer, built from `vocab.json` and `merges.txt`,
 * for tokenizer folders that ship without one (SD 1.x repositories save only the slow
 * tokenizer's files). The structure is the one transformers' CLIPConverter produces:
 * NFC + whitespace collapsing + lowercasing, CLIP's word regex, byte-level mapping, BPE
 * with the "</w>" end-of-word suffix and <|endoftext|> as the unknown token.
 */

export class TokenizerFilesError extends Error {
  override name = "TokenizerFilesError";
}

/** CLIP's word pattern (openai/CLIP simple_tokenizer): contractions, letter runs, single digits, other symbol runs. */
export const CLIP_WORD_PATTERN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * The slow CLIPTokenizer reads only the first 49152 - 256 - 2 merges of merges.txt
 * (the original BPE file has more); do the same so both agree.
 */
export const CLIP_MAX_MERGES = 49152 - 256 - 2;

/** Parses merges.txt: a "#version" header, then one "left right" pair per line. */
export function parseMerges(text: string): string[] {
  const merges: string[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\r$/, "");
    if (line.length === 0 || (index === 0 && line.startsWith("#version"))) continue;
    if (line.split(" ").length !== 2) throw new TokenizerFilesError(`merges.txt line ${index + 1} is not a pair of symbols: ${JSON.stringify(line)}`);
    merges.push(line);
  }
  return merges.slice(0, CLIP_MAX_MERGES);
}

/** A special token as tokenizer_config.json writes it: a string or {"content": ...}; fallback when absent. */
export function specialToken(config: Record<string, unknown>, field: string, fallback: string): string {
  const value = config[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string") return value;
  if (typeof value === "object" && typeof (value as { content?: unknown }).content === "string") return (value as { content: string }).content;
  throw new TokenizerFilesError(`tokenizer_config.json: ${field} is neither a string nor {"content": ...}`);
}

export interface ClipSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
}

/** The fast-tokenizer description of a CLIP tokenizer with this vocabulary and these merges. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: readonly string[], special: ClipSpecialTokens): Record<string, unknown> {
  for (const token of [special.bos, special.eos, special.unk]) {
    if (vocab[token] === undefined) throw new TokenizerFilesError(`vocab.json has no entry for the special token ${JSON.stringify(token)}`);
  }
  const addedToken = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  const added = [...new Set([special.bos, special.eos])].map(addedToken);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "NFC" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }, { type: "Lowercase" }],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: CLIP_WORD_PATTERN }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: [special.eos, vocab[special.eos]],
      cls: [special.bos, vocab[special.bos]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: special.unk,
      continuing_subword_prefix: "",
      end_of_word_suffix: "</w>",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [...merges],
    },
  };
}
