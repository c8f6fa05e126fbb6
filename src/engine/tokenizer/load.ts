/** Reads a tokenizer folder (Optimum/diffusers layout) from disk. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { clipTokenizerJson, parseMerges, specialToken, TokenizerFilesError } from "./clip-json.js";
import { ClipTokenizer } from "./clip-tokenizer.js";

async function readText(dir: string, name: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, name), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TokenizerFilesError(`${join(dir, name)}: cannot read (${(error as Error).message})`);
  }
}

function parseJson(dir: string, name: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerFilesError(`${join(dir, name)} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TokenizerFilesError(`${join(dir, name)} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Loads `dir/tokenizer.json` + `dir/tokenizer_config.json`; without tokenizer.json, builds
 * it from vocab.json + merges.txt (CLIP's structure). Reads local files only.
 */
export async function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  const configText = await readText(dir, "tokenizer_config.json");
  const tokenizerConfig = configText === undefined ? {} : parseJson(dir, "tokenizer_config.json", configText);
  const tokenizerText = await readText(dir, "tokenizer.json");
  let tokenizerJson: Record<string, unknown>;
  if (tokenizerText !== undefined) {
    tokenizerJson = parseJson(dir, "tokenizer.json", tokenizerText);
  } else {
    const vocabText = await readText(dir, "vocab.json");
    const mergesText = await readText(dir, "merges.txt");
    if (vocabText === undefined || mergesText === undefined) {
      throw new TokenizerFilesError(`${dir}: a CLIP tokenizer folder needs tokenizer.json, or vocab.json and merges.txt`);
    }
    const vocab = parseJson(dir, "vocab.json", vocabText) as Record<string, number>;
    tokenizerJson = inDir(dir, () =>
      clipTokenizerJson(vocab, parseMerges(mergesText), {
        bos: specialToken(tokenizerConfig, "bos_token", "<|startoftext|>"),
        eos: specialToken(tokenizerConfig, "eos_token", "<|endoftext|>"),
        unk: specialToken(tokenizerConfig, "unk_token", "<|endoftext|>"),
      }),
    );
  }
  return inDir(dir, () => ClipTokenizer.fromFiles({ tokenizerJson, tokenizerConfig }));
}

/** Runs `build`, naming the folder in any TokenizerFilesError it throws. */
function inDir<T>(dir: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof TokenizerFilesError) throw new TokenizerFilesError(`${dir}: ${error.message}`);
    throw error;
  }
}
