import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareOnConcept, type ConceptResult, markdownTable, summarise } from "../../../src/engine/evaluation/compare.js";
import { openGenerator } from "../../../src/engine/generate/pipeline.js";
import { describeInversion } from "../../../src/engine/inversion/job.js";
import { openModelFolder } from "../../../src/engine/model/folder.js";
import { openImageScorer } from "../../../src/engine/scoring/image-scorer.js";
import { writeTrainingImages } from "../inversion/fixture-images.js";
import sharp from "sharp";
import { conceptGridPng } from "../../../src/engine/evaluation/grid.js";

const result = (concept: string, dvarSteps: number, dvarScore: number, baselineScore: number): ConceptResult => ({
  concept, initializer: "cat</w>", dvarSteps, dvarStopped: true, dvarScore, dvarSeconds: 1, baselineBestStep: 6000, baselineScore, baselineSeconds: 9, initScore: 0.5,
});

describe("acceptance summary", () => {
  it("accepts when every DVAR run is within 15% of the baseline's steps and the median score within 95%", () => {
    const ok = [result("a", 400, 0.8, 0.82), result("b", 900, 0.7, 0.71), result("c", 300, 0.9, 0.9)];
    const s = summarise(ok, 6100);
    expect(s).toMatchObject({ medianDvarSteps: 400, maxDvarSteps: 900, medianDvarScore: 0.8, medianBaselineScore: 0.82, accepted: true });
    expect(summarise([...ok, result("d", 916, 0.8, 0.8)], 6100).accepted).toBe(false); // 916 > 915
    expect(summarise([result("a", 400, 0.7, 0.8)], 6100).accepted).toBe(false); // 87.5%
    expect(markdownTable(ok, s, 6100)).toMatch(/\| b \| cat<\/w> \| 0\.5000 \| 900 \| 14\.8% \| 0\.7000 \|[\s\S]*ACCEPTED/);
  });
});

describe("DVAR vs baseline on one concept", () => {
  let images: string;
  beforeAll(async () => {
    images = await writeTrainingImages();
  });
  afterAll(async () => {
    await rm(images, { recursive: true, force: true });
  });

  it("runs both from the same start: at equal steps they hold the same vectors, so the same score", async () => {
    const folder = openModelFolder("test/fixtures/tiny-sd-a");
    const description = await describeInversion({ model: folder.root, images, token: "<c>", init: { kind: "word", word: "cat" }, seed: 2, batchSize: 2, evalBatchSize: 2 });
    const generator = await openGenerator(folder, 1);
    const scorer = await openImageScorer(folder, 1);
    const lines: string[] = [];
    try {
      const { result: r, samples } = await compareOnConcept("c", folder, description, generator, scorer, {
        baselineSteps: 4, scoreEvery: 2, dvar: "dvar", threads: 1, seed: 2, log: (l) => lines.push(l),
        score: { samples: 1, steps: 2, guidance: 7.5, seed: 0, property: "object" },
      });
      const logged = lines.filter((l) => l.includes("baseline step")).map((l) => Number(/score (\S+)/.exec(l)![1]));
      expect(logged.length).toBe(2);
      expect(r.dvarSteps).toBe(4); // N = 310: DVAR cannot fire in 4 steps, it stops at the cap
      expect(r.dvarStopped).toBe(false);
      expect(r.dvarScore.toFixed(4)).toBe(logged[1]!.toFixed(4));
      expect(r.baselineScore).toBeCloseTo(Math.max(...logged), 4);
      expect([2, 4]).toContain(r.baselineBestStep);
      expect(r.initScore).toBeGreaterThan(-1);
      expect([samples.references.length, samples.init.length, samples.dvar.length, samples.baseline.length]).toEqual([3, 1, 1, 1]);
      const png = await conceptGridPng([{ name: "c", samples }, { name: "d", samples }]);
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 150 + 3 * 132, 2 * (18 + 4 * 132)]);
    } finally {
      await generator.close();
      await scorer.release();
    }
  });
});
