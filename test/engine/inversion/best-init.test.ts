/** The "best" initialisation with the model's image scorer (test/fixtures/tiny-sd-a has a random one). */
import { readFile, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { loadTrainingImages, type TrainingImage } from "../../../src/engine/images/index.js";
import { bestInitializer, candidateWords } from "../../../src/engine/inversion/best-init.js";
import { describeInversion } from "../../../src/engine/inversion/job.js";
import { openModelFolder } from "../../../src/engine/model/folder.js";
import { generateImages } from "../../../src/engine/generate/pipeline.js";
import { writePngs } from "../../../src/engine/generate/png.js";
import { meanPairwiseCosine } from "../../../src/engine/scoring/image-scorer.js";
import { loadClipTokenizer } from "../../../src/engine/tokenizer/index.js";
import { ModelSession } from "../../../src/runtime/session.js";
import { writeTrainingImages } from "./fixture-images.js";

const MODEL = "test/fixtures/tiny-sd-a";
let imagesDir: string;
let references: TrainingImage[];
beforeAll(async () => {
  imagesDir = await writeTrainingImages();
  references = await loadTrainingImages(imagesDir, { resolution: 64 });
});
afterAll(async () => {
  await rm(imagesDir, { recursive: true, force: true });
});

describe("mean pairwise cosine", () => {
  it("averages cos(a_i, b_j) over all pairs, whatever the lengths", () => {
    const a = [Float32Array.of(1, 0), Float32Array.of(0, 2)];
    const b = [Float32Array.of(3, 3)];
    expect(meanPairwiseCosine(a, b)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(meanPairwiseCosine([Float32Array.of(1, 0)], [Float32Array.of(-2, 0), Float32Array.of(0, 5)])).toBeCloseTo(-0.5, 12);
  });
});

describe("best initializer", () => {
  it("scores every whole-word token and picks the highest; the winner's score is what the scorer model says", async () => {
    const folder = openModelFolder(MODEL);
    const tokenizer = await loadClipTokenizer(folder.tokenizerDir);
    const words = candidateWords(tokenizer);
    expect(words.map((w) => w.word)).toEqual(expect.arrayContaining(["cat", "of", "photo", "the"]));
    expect(words.every((w) => /^[a-z]{2,}<\/w>$/.test(w.token) && tokenizer.idOf(w.token) === w.id)).toBe(true);

    const { best, scores } = await bestInitializer(folder, tokenizer, references, { property: "object", seed: 1, samples: 1, steps: 2, threads: 1 });
    expect(scores.map((s) => s.id)).toEqual(words.map((w) => w.id));
    const top = scores.reduce((a, b) => (b.score > a.score ? b : a));
    expect(best).toEqual({ id: top.id, token: top.token });
    expect(new Set(scores.map((s) => s.score)).size).toBeGreaterThan(1);

    // Recompute the winner's score from the saved PNG and the scorer model run here, cosine by hand.
    const { images } = await generateImages(folder, { prompt: `a photo of a ${top.word}`, n: 1, steps: 2, seed: 1, threads: 1 });
    const [file] = await writePngs(`${imagesDir}/best`, images);
    const rgb = await sharp(await readFile(file!)).raw().toBuffer();
    const pixels = new Float32Array(3 * 64 * 64);
    for (let i = 0; i < 64 * 64; i++) for (let c = 0; c < 3; c++) pixels[c * 4096 + i] = rgb[3 * i + c]! / 127.5 - 1;
    const session = await ModelSession.fromFile(`${MODEL}/image_encoder/model.onnx`, { threads: 1 });
    const embed = async (x: Float32Array) => (await session.run({ pixel_values: { data: x, dims: [1, 3, 64, 64] } })).image_embeds!.data as Float32Array;
    const g = await embed(pixels);
    let sum = 0;
    for (const r of references) {
      const e = await embed(r.pixels);
      let dot = 0, ng = 0, ne = 0;
      for (let i = 0; i < g.length; i++) [dot, ng, ne] = [dot + g[i]! * e[i]!, ng + g[i]! ** 2, ne + e[i]! ** 2];
      sum += dot / Math.sqrt(ng * ne);
    }
    await session.release();
    expect(Math.abs(top.score - sum / references.length)).toBeLessThan(1e-5);
  });

  it("is recorded in the job description, so a resume does not search again", async () => {
    const d = await describeInversion({ model: MODEL, images: imagesDir, token: "<tst>", init: { kind: "best" }, seed: 1 }, { threads: 1 });
    expect(d.initializer.kind).toBe("best");
    expect(candidateWords(await loadClipTokenizer(`${MODEL}/tokenizer`)).map((w) => w.id)).toContain(d.initializer.tokenId);
  });
});
