/** `dvar generate` on the complete tiny random-weight pipelines (tiny-sd-a: PNDM/epsilon; tiny-sd-b: DDIM/v-prediction, int64 ids, scalar timestep). */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGenerate } from "../../src/cli/generate.js";
import { decodeModel } from "../../src/graph/onnx/codec.js";
import { readTableRows, tokenEmbeddingTable } from "../../src/graph/textual-inversion/text-encoder.js";
import { encodeA1111Embedding, encodeDiffusersEmbedding } from "../../src/engine/embeddings/index.js";
import { generateImages, toRgb } from "../../src/engine/generate/pipeline.js";
import { openModelFolder } from "../../src/engine/model/folder.js";
import { loadClipTokenizer } from "../../src/engine/tokenizer/index.js";

const MODEL = "test/fixtures/tiny-sd-a";
let dir: string;
let catRow: Float32Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dvar-generate-"));
  const tokenizer = await loadClipTokenizer(`${MODEL}/tokenizer`);
  const te = decodeModel(await readFile(`${MODEL}/text_encoder/model.onnx`), { sourcePath: `${MODEL}/text_encoder/model.onnx` });
  catRow = readTableRows(tokenEmbeddingTable(te), [tokenizer.idOf("cat</w>")!]);
  const twoCats = new Float32Array(64);
  twoCats.set(catRow, 0);
  twoCats.set(catRow, 32);
  await writeFile(join(dir, "cat.safetensors"), encodeDiffusersEmbedding({ token: "<tst>", numVectors: 1, hiddenSize: 32, vectors: catRow }));
  await writeFile(join(dir, "two.safetensors"), encodeDiffusersEmbedding({ token: "<tst>", numVectors: 2, hiddenSize: 32, vectors: twoCats }));
  await writeFile(join(dir, "tst.safetensors"), encodeA1111Embedding({ token: "tst", numVectors: 1, hiddenSize: 32, vectors: catRow }));
  const other = catRow.map((v, i) => v + 0.5 * Math.sin(i + 1));
  await writeFile(join(dir, "other.safetensors"), encodeDiffusersEmbedding({ token: "<tst>", numVectors: 1, hiddenSize: 32, vectors: other }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let runs = 0;
/** Runs dvar generate into a fresh folder; returns the PNG files' bytes in order. */
async function generate(extra: string[], model = MODEL): Promise<Buffer[]> {
  const out = join(dir, `out-${runs++}`);
  const lines: string[] = [];
  const code = await runGenerate(["--model", model, "--steps", "3", "--n", "1", "--threads", "1", "--out", out, "--json", ...extra], { write: (t: string) => lines.push(t) });
  expect(code).toBe(0);
  const result = JSON.parse(lines.join(""));
  expect(result.event).toBe("done");
  return Promise.all((await readdir(out)).sort().map((f) => readFile(join(out, f))));
}

describe("dvar generate", () => {
  it("injects the learned vectors where the token appears: the embedding of 'cat' draws exactly what 'cat' draws", async () => {
    const [withWord] = await generate(["--prompt", "a photo of cat", "--seed", "7"]);
    const [withEmbedding] = await generate(["--prompt", "a photo of <tst>", "--seed", "7", "--embedding", join(dir, "cat.safetensors")]);
    expect(withEmbedding!.equals(withWord!)).toBe(true);
    const [other] = await generate(["--prompt", "a photo of <tst>", "--seed", "7", "--embedding", join(dir, "other.safetensors")]);
    expect(other!.equals(withWord!)).toBe(false);
    const meta = await sharp(withWord!).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(["png", 64, 64, 3]);
  });

  it("reads A1111 files (word = file name, or --token) and expands a k-vector token to tok tok_1", async () => {
    const [reference] = await generate(["--prompt", "a photo of cat", "--seed", "2"]);
    const [a1111] = await generate(["--prompt", "a photo of <tst>", "--seed", "2", "--embedding", join(dir, "tst.safetensors"), "--token", "<tst>"]);
    expect(a1111!.equals(reference!)).toBe(true);
    const [twice] = await generate(["--prompt", "a photo of cat cat", "--seed", "2"]);
    const [two] = await generate(["--prompt", "a photo of <tst>", "--seed", "2", "--embedding", join(dir, "two.safetensors")]);
    expect(two!.equals(twice!)).toBe(true);
  });

  it("is deterministic per seed, for every sampler, and image i of a batch uses seed S + i", async () => {
    for (const sampler of ["pndm", "ddim", "euler-a"]) {
      const a = await generate(["--prompt", "a photo of cat", "--seed", "4", "--n", "2", "--sampler", sampler]);
      const b = await generate(["--prompt", "a photo of cat", "--seed", "4", "--n", "2", "--sampler", sampler]);
      expect(a.length).toBe(2);
      a.forEach((png, i) => expect(png.equals(b[i]!), `${sampler} image ${i}`).toBe(true));
      expect(a[0]!.equals(a[1]!)).toBe(false);
    }
    const files = await readdir(join(dir, `out-${runs - 1}`));
    expect(files.sort()).toEqual(["image-0-seed-4.png", "image-1-seed-5.png"]);
    const batch = await generate(["--prompt", "a photo of cat", "--seed", "4", "--n", "2"]);
    const alone = await generate(["--prompt", "a photo of cat", "--seed", "5", "--n", "1"]);
    expect(alone[0]!.equals(batch[1]!)).toBe(true);
  });

  it("runs on the other export conventions (int64 ids, scalar float timestep, DDIM with v-prediction)", async () => {
    const a = await generate(["--prompt", "a photo of cat", "--negative-prompt", "dark", "--guidance", "5"], "test/fixtures/tiny-sd-b");
    const b = await generate(["--prompt", "a photo of cat", "--negative-prompt", "dark", "--guidance", "5"], "test/fixtures/tiny-sd-b");
    expect(a[0]!.equals(b[0]!)).toBe(true);
    const c = await generate(["--prompt", "a photo of cat", "--guidance", "5"], "test/fixtures/tiny-sd-b");
    expect(c[0]!.equals(a[0]!)).toBe(false);
  });

  it("refuses bad flags and embeddings of another width", async () => {
    await expect(runGenerate(["--model", MODEL])).rejects.toThrow(/--prompt is required/);
    await expect(runGenerate(["--model", MODEL, "--prompt", "x", "--sampler", "lms"])).rejects.toThrow(/--sampler must be one of/);
    await expect(runGenerate(["--model", MODEL, "--prompt", "x", "--guidance", "0.5"])).rejects.toThrow(/--guidance must be a number >= 1/);
    await writeFile(join(dir, "wide.safetensors"), encodeDiffusersEmbedding({ token: "<w>", numVectors: 1, hiddenSize: 48, vectors: new Float32Array(48) }));
    await expect(runGenerate(["--model", MODEL, "--prompt", "<w>", "--threads", "1", "--embedding", join(dir, "wide.safetensors")])).rejects.toThrow(/width 48, the text encoder takes 32/);
  });
});

describe("generateImages", () => {
  it("says when DDIM stands in for a scheduler class it does not implement (DDPMScheduler)", async () => {
    const folder = openModelFolder(MODEL);
    const ddpm = { ...folder, schedulerConfig: { ...folder.schedulerConfig, _class_name: "DDPMScheduler" } };
    const result = await generateImages(ddpm, { prompt: "cat", n: 1, steps: 2, threads: 1 });
    expect(result.sampler).toBe("ddim");
    expect(result.warnings).toEqual([expect.stringMatching(/names DDPMScheduler, which is not implemented: DDIM stands in/)]);
    expect((await generateImages(folder, { prompt: "cat", n: 1, steps: 2, threads: 1 })).warnings).toEqual([]);
  });
});

describe("decoded images to 8-bit RGB", () => {
  it("maps [-1, 1] to round((x / 2 + 0.5) * 255), clamped, CHW to interleaved", () => {
    const chw = Float32Array.of(-1, 1, /* G */ 0, 2, /* B */ -3, 0.5);
    expect(Array.from(toRgb(chw, 1, 2))).toEqual([0, 128, 0, 255, 255, 191]);
  });
});
