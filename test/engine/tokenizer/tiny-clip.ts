/**
 * A tiny CLIP-style tokenizer built the way CLIP's vocabulary is built (256 byte symbols,
 * the same with "</w>", one entry per merge, then <|startoftext|> and <|endoftext|>), and
 * an independent reference encoder written from openai/CLIP's simple_tokenizer algorithm
 * (clean whitespace, lowercase, word regex, byte-to-unicode, greedy lowest-rank merges).
 */

/** GPT-2/CLIP bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return table;
}

/** The byte symbols in CLIP's vocabulary order: printable bytes first, then the remapped ones. */
function vocabSymbolOrder(): string[] {
  const table = bytesToUnicode();
  const printable = table.filter((s, b) => s.codePointAt(0) === b);
  return [...printable, ...table.filter((s, b) => s.codePointAt(0) !== b)];
}

export const TINY_MERGES = [
  "o f</w>", "p h", "ph o", "t o</w>", "pho to</w>", "t h", "th e</w>", "c a", "ca t</w>", "t o", "to y</w>",
  "i n", "in g</w>", "p a", "pa in", "t ing</w>", "pain ting</w>", "i n</w>", "s t", "st y", "l e</w>", "sty le</w>",
];

export function tinyVocab(): Record<string, number> {
  const symbols = vocabSymbolOrder();
  const entries = [...symbols, ...symbols.map((s) => `${s}</w>`), ...TINY_MERGES.map((m) => m.replace(" ", "")), "<|startoftext|>", "<|endoftext|>"];
  return Object.fromEntries(entries.map((token, id) => [token, id]));
}

export function tinyMergesTxt(): string {
  return `#version: 0.2\n${TINY_MERGES.join("\n")}\n`;
}

export const tinyTokenizerConfig = {
  add_prefix_space: false,
  bos_token: { __type: "AddedToken", content: "<|startoftext|>", lstrip: false, normalized: true, rstrip: false, single_word: false },
  do_lower_case: true,
  eos_token: { __type: "AddedToken", content: "<|endoftext|>", lstrip: false, normalized: true, rstrip: false, single_word: false },
  errors: "replace",
  model_max_length: 77,
  pad_token: "<|endoftext|>",
  tokenizer_class: "CLIPTokenizer",
  unk_token: "<|endoftext|>",
};

function bpe(word: string[], ranks: Map<string, number>): string[] {
  let symbols = [...word];
  symbols[symbols.length - 1] += "</w>";
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
    }
    if (best < 0) return symbols;
    const [left, right] = [symbols[best]!, symbols[best + 1]!];
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
        merged.push(left + right);
        i++;
      } else merged.push(symbols[i]!);
    }
    symbols = merged;
  }
}

/** Reference token ids of `text` (no BOS/EOS), as openai/CLIP's SimpleTokenizer.encode computes them. */
export function referenceEncode(text: string, vocab: Record<string, number>, merges: readonly string[]): number[] {
  const ranks = new Map(merges.map((m, i) => [m, i]));
  const byteSymbol = bytesToUnicode();
  const cleaned = text.normalize("NFC").replace(/\s+/gu, " ").trim().toLowerCase();
  const words = cleaned.match(/<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu) ?? [];
  const ids: number[] = [];
  for (const word of words) {
    const symbols = Array.from(new TextEncoder().encode(word), (b) => byteSymbol[b]!);
    for (const piece of bpe(symbols, ranks)) ids.push(vocab[piece]!);
  }
  return ids;
}
