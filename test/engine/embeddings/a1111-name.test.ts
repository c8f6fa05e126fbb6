import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultOutDir } from "../../../src/cli/invert/setup.js";
import { createInitialState } from "../../../src/core/inversion/index.js";
import { a1111EmbeddingName, decodeEmbedding } from "../../../src/engine/embeddings/index.js";
import { writeInversionOutputs } from "../../../src/engine/inversion/outputs.js";
import { ODD_TOKENS } from "../../helpers/odd-tokens.js";

describe("a1111EmbeddingName", () => {
  it.each(ODD_TOKENS)("names %j %j", (token, name) => {
    expect(a1111EmbeddingName(token)).toBe(name);
  });

  it("always gives a non-empty name of ASCII letters, digits, _ and - (no separators, dots, quotes or control characters)", () => {
    const alphabet = ["a", "Z", "0", "_", "-", ".", "/", "\\", '"', "'", "<", ">", " ", "\t", "\n", "\u0000", "é", "猫", "😀", ":", ";", "%"];
    for (let i = 0; i < 2000; i++) {
      // Every string of length 1-3 over the alphabet, enumerated by the index's digits.
      let n = i, token = "";
      do { token += alphabet[n % alphabet.length]; n = Math.floor(n / alphabet.length); } while (n > 0);
      expect(a1111EmbeddingName(token)).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });
});

describe("dvar invert's A1111 files", () => {
  it.each(ODD_TOKENS)("are named after %j's A1111 name, which is also the name inside both files", async (token, name) => {
    const dir = await mkdtemp(join(tmpdir(), "a1111-name-"));
    try {
      const state = createInitialState({ seed: 1, learningRate: 0.05, stop: { name: "fixed", steps: 2 }, maxSteps: 2 }, Float32Array.from([1, 2, 3, 4]));
      await writeInversionOutputs(dir, state, token, 2);
      const files = await readdir(dir);
      expect(files).toEqual(expect.arrayContaining([`${name}.safetensors`, `${name}.pt`, "learned_embeds.safetensors"]));
      for (const file of [`${name}.safetensors`, `${name}.pt`]) {
        // Without a file name to go by, the reader takes the name stored in the file.
        const decoded = decodeEmbedding(await readFile(join(dir, file)));
        expect(decoded.embedding).toMatchObject({ token: name, numVectors: 2, hiddenSize: 2 });
      }
      expect(decodeEmbedding(await readFile(join(dir, "learned_embeds.safetensors"))).embedding.token).toBe(token);
      expect(defaultOutDir(token)).toBe(join("runs", name));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
