import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  addPlaceholder,
  ClipTokenizer,
  initializerFromRandomToken,
  initializerFromWord,
  loadClipTokenizer,
  parseMerges,
  resolveInitializer,
  TokenizerError,
  TokenizerFilesError,
} from "../../../src/engine/tokenizer/index.js";
import { bytesToUnicode, referenceEncode, TINY_MERGES, tinyMergesTxt, tinyTokenizerConfig, tinyVocab } from "./tiny-clip.js";

const vocab = tinyVocab();
const V = 256 * 2 + TINY_MERGES.length + 2; // 536: bytes, bytes</w>, merges, BOS, EOS
const BOS = vocab["<|startoftext|>"]!;
const EOS = vocab["<|endoftext|>"]!;

/** tokenizer.json as transformers writes it for CLIP (written out here, not by the code under test). */
function handWrittenTokenizerJson() {
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special("<|startoftext|>"), special("<|endoftext|>")],
    normalizer: { type: "Sequence", normalizers: [{ type: "NFC" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }, { type: "Lowercase" }] },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: "RobertaProcessing", sep: ["<|endoftext|>", EOS], cls: ["<|startoftext|>", BOS], trim_offsets: false, add_prefix_space: false },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: "<|endoftext|>", continuing_subword_prefix: "", end_of_word_suffix: "</w>", fuse_unk: false, byte_fallback: false, vocab, merges: TINY_MERGES },
  };
}

let root: string;
let fromVocab: ClipTokenizer; // folder without tokenizer.json (SD 1.x repositories)
let fromJson: ClipTokenizer; // folder with tokenizer.json (Optimum exports)

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "dvar-tok-"));
  await mkdir(join(root, "slow"));
  await writeFile(join(root, "slow", "vocab.json"), JSON.stringify(vocab));
  await writeFile(join(root, "slow", "merges.txt"), tinyMergesTxt());
  await writeFile(join(root, "slow", "tokenizer_config.json"), JSON.stringify(tinyTokenizerConfig));
  await mkdir(join(root, "fast"));
  await writeFile(join(root, "fast", "tokenizer.json"), JSON.stringify(handWrittenTokenizerJson()));
  await writeFile(join(root, "fast", "tokenizer_config.json"), JSON.stringify(tinyTokenizerConfig));
  fromVocab = await loadClipTokenizer(join(root, "slow"));
  fromJson = await loadClipTokenizer(join(root, "fast"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const pieces = (t: ClipTokenizer, text: string) => t.tokenize(text).map((id) => t.tokenOf(id));

describe("CLIP BPE encoding", () => {
  it("knows the base vocabulary size and special ids", () => {
    for (const t of [fromVocab, fromJson]) {
      expect([t.baseVocabSize, t.bosId, t.eosId, t.padId, t.maxLength]).toEqual([V, V - 2, V - 1, V - 1, 77]);
      expect([...t.specialIds].sort()).toEqual([BOS, EOS]);
    }
  });

  it("encodes known sentences: lowercased, whitespace collapsed, merges applied, punctuation and digits split", () => {
    expect(pieces(fromJson, "a photo of the cat toy")).toEqual(["a</w>", "photo</w>", "of</w>", "the</w>", "cat</w>", "toy</w>"]);
    expect(pieces(fromJson, "A  PHOTO\tof a Painting, in style!")).toEqual(
      ["a</w>", "photo</w>", "of</w>", "a</w>", "painting</w>", ",</w>", "in</w>", "style</w>", "!</w>"],
    );
    expect(pieces(fromJson, "toy42")).toEqual(["toy</w>", "4</w>", "2</w>"]);
    expect(pieces(fromJson, "dog")).toEqual(["d", "o", "g</w>"]);
    // Non-ASCII goes through the byte-level map: "é" is two UTF-8 bytes, two symbols.
    const [c3, a9] = [bytesToUnicode()[0xc3]!, bytesToUnicode()[0xa9]!];
    expect(pieces(fromJson, "café")).toEqual(["ca", "f", c3, `${a9}</w>`]);
  });

  it("agrees with a reference implementation of CLIP's BPE, from both folder layouts", () => {
    const texts = [
      "a photo of the cat toy",
      "The painting in the style of the cat, photographed!!",
      "it's a cat's toy; they're painting 2024 toys...",
      "naïve café — ünïcode photo",
      "  leading and   trailing   spaces  ",
      "stylestyle paintingpainting cattoy",
      "🐱 emoji photo",
    ];
    for (const text of texts) {
      const expected = referenceEncode(text, vocab, TINY_MERGES);
      expect(fromJson.tokenize(text), text).toEqual(expected);
      expect(fromVocab.tokenize(text), text).toEqual(expected);
    }
  });

  it("frames with BOS/EOS and pads to 77 with the pad token", () => {
    const { ids, length, truncated } = fromJson.encode("a photo of the cat toy");
    expect(ids).toHaveLength(77);
    expect(Array.from(ids.slice(0, 8))).toEqual([BOS, vocab["a</w>"], vocab["photo</w>"], vocab["of</w>"], vocab["the</w>"], vocab["cat</w>"], vocab["toy</w>"], EOS]);
    expect(Array.from(ids.slice(8)).every((id) => id === EOS)).toBe(true);
    expect([length, truncated]).toEqual([8, false]);
  });

  it("pads with the configured pad token (SD 2.x configs name '!')", () => {
    const t = ClipTokenizer.fromFiles({ tokenizerJson: handWrittenTokenizerJson(), tokenizerConfig: { ...tinyTokenizerConfig, pad_token: "!" } });
    const { ids } = t.encode("cat");
    expect(Array.from(ids.slice(0, 4))).toEqual([BOS, vocab["cat</w>"], EOS, vocab["!"]]);
    expect(vocab["!"]).toBe(0);
  });

  it("truncates text over 75 tokens to BOS + first 75 + EOS, as CLIP's truncation does", () => {
    const text = Array.from({ length: 30 }, (_, i) => `cat toy ${i % 10}`).join(" "); // 90 tokens
    const tokens = fromJson.tokenize(text);
    expect(tokens).toHaveLength(90);
    const { ids, length, truncated } = fromJson.encode(text);
    expect([ids.length, length, truncated]).toEqual([77, 77, true]);
    expect(ids[0]).toBe(BOS);
    expect(Array.from(ids.slice(1, 76))).toEqual(tokens.slice(0, 75));
    expect(ids[76]).toBe(EOS);
    // Exactly 75 tokens still fits without truncation.
    const fits = fromJson.encode(Array.from({ length: 25 }, () => "a cat toy").join(" "));
    expect([fits.length, fits.truncated, fits.ids[76]]).toEqual([77, false, EOS]);
  });

  it("builds a [count, 77] batch", () => {
    const batch = fromJson.encodeBatch(["cat", "toy"]);
    expect(batch).toHaveLength(154);
    expect([batch[1], batch[78]]).toEqual([vocab["cat</w>"], vocab["toy</w>"]]);
  });
});

describe("placeholder tokens", () => {
  it("adds <tok>, <tok>_1, ... with ids V, V+1, ...", () => {
    const { tokenizer, placeholder } = addPlaceholder(fromJson, "<cat-toy>", 3);
    expect(placeholder).toEqual({ tokens: ["<cat-toy>", "<cat-toy>_1", "<cat-toy>_2"], ids: [V, V + 1, V + 2], text: "<cat-toy> <cat-toy>_1 <cat-toy>_2" });
    expect(tokenizer.baseVocabSize).toBe(V);
    expect(tokenizer.addedTokens).toEqual(placeholder.tokens);
    expect(fromJson.addedTokens).toEqual([]); // the original is unchanged
  });

  it("encodes a placeholder appearing twice, with the words around it as before", () => {
    const { tokenizer, placeholder } = addPlaceholder(fromJson, "<cat-toy>", 2);
    const text = `a photo of ${placeholder.text} next to ${placeholder.text}, painting`;
    const ref = (s: string) => referenceEncode(s, vocab, TINY_MERGES);
    const expected = [...ref("a photo of"), V, V + 1, ...ref("next to"), V, V + 1, ...ref(", painting")];
    expect(tokenizer.tokenize(text)).toEqual(expected);
    const { ids } = tokenizer.encode(text);
    expect(Array.from(ids.slice(0, expected.length + 2))).toEqual([BOS, ...expected, EOS]);
    expect(Array.from(ids).filter((id) => id >= V)).toEqual([V, V + 1, V, V + 1]);
  });

  it("matches placeholders in the lowercased text, also inside words", () => {
    const { tokenizer } = addPlaceholder(fromJson, "<Cat-Toy>");
    for (const text of ["<cat-toy>", "<CAT-TOY>", "a <cAt-tOy> toy"]) {
      expect(tokenizer.tokenize(text).filter((id) => id === V), text).toHaveLength(1);
    }
    expect(tokenizer.tokenize("a <CAT-TOY> toy")).toEqual([vocab["a</w>"], V, vocab["toy</w>"]]);
    expect(tokenizer.tokenize("the<cat-toy>s")).toEqual([vocab["the</w>"], V, vocab["s</w>"]]);
    // Without the placeholder the same text is ordinary BPE.
    expect(fromJson.tokenize("a <CAT-TOY> toy")).toEqual(referenceEncode("a <CAT-TOY> toy", vocab, TINY_MERGES));
  });

  it("gives a second concept the ids after the first", () => {
    const first = addPlaceholder(fromJson, "<a>", 2);
    const second = addPlaceholder(first.tokenizer, "<b>", 1);
    expect(second.placeholder.ids).toEqual([V + 2]);
    expect(second.tokenizer.tokenize("<a> <a>_1 <b>")).toEqual([V, V + 1, V + 2]);
  });

  it("refuses placeholders the vocabulary already holds, duplicates, whitespace and bad counts", () => {
    for (const taken of ["ca", "CA", "photo</w>", "<|endoftext|>", "a"]) {
      expect(() => addPlaceholder(fromJson, taken), taken).toThrow(TokenizerError);
      expect(() => addPlaceholder(fromJson, taken), taken).toThrow(/already contains the token/);
    }
    const { tokenizer } = addPlaceholder(fromJson, "<x>");
    expect(() => addPlaceholder(tokenizer, "<x>")).toThrow(/already contains/);
    expect(() => addPlaceholder(tokenizer, "<X>")).toThrow(/already contains/);
    expect(() => fromJson.withAddedTokens(["<y>", "<y>"])).toThrow(/already contains/);
    // "<z>_1" taken by an earlier placeholder blocks a 2-vector "<z>" too, as diffusers' count check does.
    const taken = fromJson.withAddedTokens(["<z>_1"]);
    expect(() => addPlaceholder(taken, "<z>", 2)).toThrow(/"<z>_1"/);
    expect(() => addPlaceholder(fromJson, "my cat")).toThrow(/whitespace/);
    expect(() => addPlaceholder(fromJson, "")).toThrow(/non-empty/);
    expect(() => addPlaceholder(fromJson, "<q>", 0)).toThrow(/number of vectors/);
    expect(() => addPlaceholder(fromJson, "<q>", 1.5)).toThrow(/number of vectors/);
  });
});

describe("initializer tokens", () => {
  it("takes a one-token word", () => {
    expect(initializerFromWord(fromJson, "toy")).toEqual({ id: vocab["toy</w>"], token: "toy</w>" });
    expect(initializerFromWord(fromJson, " Painting ")).toEqual({ id: vocab["painting</w>"], token: "painting</w>" });
    expect(resolveInitializer(fromJson, { kind: "word", word: "cat" }).id).toBe(vocab["cat</w>"]);
  });

  it("refuses words of several or no tokens, placeholders and special tokens, clearly", () => {
    expect(() => initializerFromWord(fromJson, "dog")).toThrow(/must be a single token, it encodes to 3 \(d o g<\/w>\)/);
    expect(() => initializerFromWord(fromJson, "cat toy")).toThrow(/encodes to 2/);
    expect(() => initializerFromWord(fromJson, "  ")).toThrow(/encodes to no token/);
    const { tokenizer } = addPlaceholder(fromJson, "<cat-toy>");
    expect(() => initializerFromWord(tokenizer, "<cat-toy>")).toThrow(/is a placeholder/);
    expect(() => initializerFromWord(fromJson, "<|endoftext|>")).toThrow(/special token/);
  });

  it("draws a random ordinary vocabulary token, reproducibly from the seed", () => {
    const draws = Array.from({ length: 40 }, (_, seed) => initializerFromRandomToken(fromJson, seed));
    for (const d of draws) {
      expect(d.id).toBeGreaterThanOrEqual(0);
      expect(d.id).toBeLessThan(V - 2); // never BOS/EOS, never a placeholder
      expect(d.token).toBe(fromJson.tokenOf(d.id));
    }
    expect(new Set(draws.map((d) => d.id)).size).toBeGreaterThan(30); // 40 draws from 534 ids
    expect(initializerFromRandomToken(fromJson, 7)).toEqual(draws[7]);
    expect(resolveInitializer(fromJson, { kind: "random", seed: 7 })).toEqual(draws[7]);
  });
});

describe("tokenizer folders", () => {
  it("loads from local files only (no fetch)", async () => {
    const fetchSpy = vi.fn(() => Promise.reject(new Error("network used")));
    vi.stubGlobal("fetch", fetchSpy);
    try {
      const t = await loadClipTokenizer(join(root, "fast"));
      t.encode("a photo of the cat toy");
    } finally {
      vi.unstubAllGlobals();
    }
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("refuses folders without the files, with broken JSON or merges, or without special tokens", async () => {
    await expect(loadClipTokenizer(join(root, "nowhere"))).rejects.toThrow(/nowhere: a CLIP tokenizer folder needs tokenizer.json, or vocab.json and merges.txt/);
    await mkdir(join(root, "broken"));
    await writeFile(join(root, "broken", "tokenizer.json"), "{not json");
    await expect(loadClipTokenizer(join(root, "broken"))).rejects.toThrow(TokenizerFilesError);
    await expect(loadClipTokenizer(join(root, "broken"))).rejects.toThrow(/tokenizer\.json is not valid JSON/);
    expect(() => parseMerges("#version: 0.2\na b c\n")).toThrow(/line 2 is not a pair/);
    await mkdir(join(root, "nospecial"));
    const { "<|endoftext|>": _eos, ...withoutEos } = vocab;
    await writeFile(join(root, "nospecial", "vocab.json"), JSON.stringify(withoutEos));
    await writeFile(join(root, "nospecial", "merges.txt"), tinyMergesTxt());
    await expect(loadClipTokenizer(join(root, "nospecial"))).rejects.toThrow(/nospecial: vocab\.json has no entry for the special token "<\|endoftext\|>"/);
  });

  it("parses merges.txt as the slow tokenizer does (header skipped, CRLF tolerated)", () => {
    expect(parseMerges("#version: 0.2\r\np h\r\nph o\r\n")).toEqual(["p h", "ph o"]);
  });
});
