/**
 * The trajectory study end to end on the small test pipeline (tiny-sd-a, random weights)
 * with short budgets: the records' structure, every method re-derived from the record,
 * the embeddings file, the plots and grid, skipping finished concepts, refusing records
 * made with other settings, and the same records from two worker processes as from one
 * process (everything but the timings).
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { baselineOutcome, candidateStop, chooseCandidate, clipSOutcome, dvarOutcome, fewItersOutcome } from "../../../src/core/study/index.js";
import { type ConceptRecord, conceptFiles, describeConcept, embeddingFromFile, openConceptScorer, scoreLookup } from "../../../src/engine/evaluation/concept-study.js";
import { runStudy, type StudyOptions } from "../../../src/engine/evaluation/study.js";
import { defaultStudySettings, findConcepts } from "../../../src/engine/evaluation/study-settings.js";
import { openInversion } from "../../../src/engine/inversion/job.js";
import { findAll, parseXml } from "../report/xml-check.js";
import { transpileProject } from "../../support/transpile-project.js";
import { writeTrainingImages } from "../inversion/fixture-images.js";

let work: string;
let parent: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dvar-study-"));
  parent = join(work, "concepts");
  await mkdir(parent, { recursive: true });
  for (const [name, word] of [["alpha", "cat"], ["beta", null]] as const) {
    await rename(await writeTrainingImages(), join(parent, name));
    if (word) await writeFile(join(parent, name, "README.md"), `Suggested initializer word: \`${word}\` (one token).\n`);
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const settings = () =>
  defaultStudySettings("test/fixtures/tiny-sd-a", {
    steps: 12,
    scoreEvery: 4,
    baselineEvery: 8,
    score: { samples: 1, steps: 2, guidance: 7.5, seed: 0, property: "object" },
    paperScore: { samples: 1, steps: 3, guidance: 7.5, seed: 0, property: "object" },
    ablation: { concept: "alpha", steps: 6 },
    threads: 1,
  });
const options = (out: string, extra: Partial<StudyOptions> = {}): StudyOptions => ({
  concepts: findConcepts([parent]),
  settings: settings(),
  out,
  preset: "dvar",
  jobs: 1,
  command: "dvar evaluate (test)",
  ...extra,
});
const readRecord = async (out: string, name: string) => JSON.parse(await readFile(conceptFiles(out, name).record, "utf8")) as ConceptRecord;

describe("the trajectory study on tiny-sd-a", () => {
  let out: string;
  let records: ConceptRecord[];
  beforeAll(async () => {
    out = join(work, "one-process");
    records = (await runStudy(options(out))).records;
  }, 300_000);

  it("records one run per concept: per-step series, scores on the cadence, the noise checkpoints", () => {
    expect(records.map((r) => [r.concept, r.steps, r.outcome])).toEqual([
      ["alpha", 12, "completed"],
      ["beta", 12, "completed"],
    ]);
    expect(records[0]!.initializer).toBe("cat</w>");
    for (const r of records) {
      for (const key of ["trainLoss", "ldet", "gradNorm", "trainMs", "ldetMs"] as const) expect(r.series[key]).toHaveLength(12);
      expect(r.series.dvarRatio.dvar).toEqual(new Array(12).fill(null)); // N = 310 values never exist in 12 steps
      expect(r.scores.step).toEqual([0, 4, 8, 12]);
      expect(r.noise.step).toEqual([8, 12]);
      expect(r.noise.seedA).toEqual([r.scores.score[2], r.scores.score[3]]);
      expect(r.noise.sd).toBeGreaterThanOrEqual(0);
      expect(r.stops).toEqual({ clipS: null, dvar: null, "dvar-paper": null });
    }
  });

  it("every method is what the core derivations give on the record", () => {
    for (const r of records) {
      const scoreAt = scoreLookup(r.scores);
      const costs = { trainMs: r.series.trainMs, ldetMs: r.series.ldetMs, scoreMs: r.costs.paperScoreMs };
      expect(r.methods.baseline).toEqual(baselineOutcome(scoreAt, 12, 8, costs));
      expect(r.methods.baseline.score).toBe(Math.max(scoreAt(8), scoreAt(12)));
      expect(r.methods.clipS).toEqual(clipSOutcome(scoreAt, null, 12, 4, costs));
      expect(r.methods.dvar).toEqual(dvarOutcome(scoreAt, null, 12, costs));
      expect(r.methods.dvar).toMatchObject({ step: 12, stopped: false });
    }
  });

  it("keeps every step's embedding: row 0 is the initializer, row 12 scores as recorded", async () => {
    const r = records[0]!;
    const file = decodeSafetensors(new Uint8Array(await readFile(conceptFiles(out, "alpha").embeddings)));
    expect(file.tensors.params!.shape).toEqual([13, 1, 32]);
    const description = await describeConcept({ name: "alpha", dir: join(parent, "alpha") }, settings());
    const job = await openInversion(description, 0, { threads: 1 });
    await job.close();
    expect(Array.from((await embeddingFromFile(conceptFiles(out, "alpha").embeddings, 0)).vectors)).toEqual(Array.from(job.initialParams));
    const scorer = await openConceptScorer("test/fixtures/tiny-sd-a", description, 1);
    try {
      const again = await scorer.score(await embeddingFromFile(conceptFiles(out, "alpha").embeddings, 12), settings().score);
      expect(again.score).toBe(scoreLookup(r.scores)(12));
    } finally {
      await scorer.close();
    }
  });

  it("writes the report, Few iters from the CLIP-s stops, the plots, the ablation and the grid", async () => {
    const report = JSON.parse(await readFile(join(out, "study.json"), "utf8"));
    expect(report.fewIters.steps).toEqual({ max: 12, mean: 12 });
    expect(report.fewIters.max).toEqual(records.map((r) => fewItersOutcome(scoreLookup(r.scores), 12, { trainMs: r.series.trainMs, ldetMs: r.series.ldetMs, scoreMs: 0 })));
    expect(report.table1.map((row: { method: string }) => row.method)).toEqual([
      "Baseline", "CLIP-s", "Few iters (max, 12)", "Few iters (mean, 12)", "DVAR (N=310, alpha=0.15)", "DVAR (N=282, alpha=0.39)",
    ]);
    expect(report.acceptance.pass).toBe(false); // DVAR never fired: capped runs fail the bar
    const markdown = await readFile(join(out, "report.md"), "utf8");
    expect(markdown).toMatch(/\| alpha \| cat<\/w> \| [\d.]+ \| 12 \(cap\) \| 100\.0% \|/);
    expect(markdown).toContain("**FAIL**");
    expect(markdown).toMatch(/\| timesteps redrawn \| [\d.]+ \|/);

    const figure = parseXml(await readFile(conceptFiles(out, "alpha").figure, "utf8"));
    expect(findAll(figure, (e) => e.name === "g").map((g) => g.attrs["data-series"])).toEqual(["train_loss", "grad_norm", "score", "l_det"]);
    const ablation = parseXml(await readFile(join(out, "figures", "ablation.svg"), "utf8"));
    expect(findAll(ablation, (e) => e.name === "g").map((g) => g.attrs["data-series"])).toEqual(["none", "timesteps", "noise", "latents", "data"]);
    expect(records[0]!.ablation!.series.none).toEqual(records[0]!.series.ldet.slice(0, 6));
    expect(records[1]!.ablation).toBeUndefined();

    const meta = await sharp(join(out, "grid.png")).metadata();
    expect([meta.width, meta.height]).toEqual([150 + 3 * 132, 2 * (18 + 4 * 132)]);
  });

  it("skips finished concepts on a rerun and refuses records made with other settings", async () => {
    const before = (await stat(conceptFiles(out, "alpha").record)).mtimeMs;
    const lines: string[] = [];
    await runStudy(options(out, { log: (l) => lines.push(l) }));
    expect(lines.filter((l) => l.includes("finished earlier, skipped"))).toHaveLength(2);
    expect((await stat(conceptFiles(out, "alpha").record)).mtimeMs).toBe(before);
    await expect(runStudy(options(out, { settings: { ...settings(), steps: 13 } }))).rejects.toThrow(/other settings/);
  }, 300_000);

  it("calibrates N and alpha: replays every candidate, scores its stops from the recorded embeddings, judges the choice on tuning and held-out concepts", async () => {
    // the records of the runs above are reused (finished concepts are skipped)
    const grid = [2, 3, 5].flatMap((window) => [0.3, 0.6, 0.9].map((threshold) => ({ window, threshold })));
    const rule = { maxFraction: 1, tolerance: 0.01 };
    const result = await runStudy(options(out, { calibrate: { tuning: ["alpha"], grid, rule } }));
    const c = result.report.calibration!;
    expect([c.tuning, c.heldOut]).toEqual([["alpha"], ["beta"]]);
    const [alpha, beta] = result.records;
    expect(c.grid.map((o) => o.concepts[0]!.step)).toEqual(grid.map((g) => candidateStop(g, alpha!.series.ldet) ?? 12));
    expect(c.chosen).toEqual(chooseCandidate(c.grid, { ...rule, steps: 12 }));
    expect(c.leaveOneOut).toBeNull(); // one tuning concept: nothing to leave out
    const chosen = c.chosen!;
    // a stop off the records' 4-step cadence was scored from the embeddings file, as a fresh scorer scores it
    const extra = Object.entries(c.extraScores.alpha ?? {});
    expect(extra.length).toBeGreaterThan(0);
    const description = await describeConcept({ name: "alpha", dir: join(parent, "alpha") }, settings());
    const scorer = await openConceptScorer("test/fixtures/tiny-sd-a", description, 1);
    try {
      const [step, value] = extra[0]!;
      expect((await scorer.score(await embeddingFromFile(conceptFiles(out, "alpha").embeddings, Number(step)), settings().score)).score).toBe(value);
    } finally {
      await scorer.close();
    }
    // the acceptance table is the tuning concept under the chosen values; the held-out one has its own
    expect(result.report.acceptance.rows.map((r) => [r.concept, r.dvarSteps])).toEqual([["alpha", chosen.concepts[0]!.step]]);
    expect(result.report.heldOutAcceptance!.rows.map((r) => [r.concept, r.dvarSteps])).toEqual([["beta", candidateStop(chosen, beta!.series.ldet) ?? 12]]);
    expect(result.report.acceptance.preset).toBe(`calibrated (N=${chosen.window}, alpha=${chosen.threshold})`);
    expect(result.report.table1.at(-1)!.method).toBe(`DVAR (calibrated (N=${chosen.window}, alpha=${chosen.threshold}))`);
    const markdown = await readFile(join(out, "report.md"), "utf8");
    expect(markdown).toContain("## Calibration of N and alpha");
    expect(markdown).toContain(`Chosen: **N=${chosen.window}, alpha=${chosen.threshold}**`);

    // a rerun takes the extra scores from the concept's extra-scores file, and decides the same
    const lines: string[] = [];
    const again = await runStudy(options(out, { calibrate: { tuning: ["alpha"], grid, rule }, log: (l) => lines.push(l) }));
    expect(lines.filter((l) => /^alpha: 0 more steps scored/.test(l))).toHaveLength(1);
    expect(again.report.calibration).toEqual(c);
  }, 300_000);

  it("refuses tuning concepts that were not studied", async () => {
    await expect(runStudy(options(out, { concepts: findConcepts([parent], ["beta"]), calibrate: { tuning: ["alpha"] } }))).rejects.toThrow(/without a record: alpha/);
  }, 300_000);

  it("two worker processes give the same records as one process (timings aside)", async () => {
    const build = join(work, "build");
    transpileProject(process.cwd(), build);
    const parallel = join(work, "two-processes");
    await runStudy(options(parallel, { jobs: 2, workerPath: join(build, "src/engine/evaluation/concept-worker.js") }));
    for (const name of ["alpha", "beta"]) {
      const [a, b] = [await readRecord(out, name), await readRecord(parallel, name)];
      const timeless = (r: ConceptRecord) => ({ ...r, series: { ...r.series, trainMs: [], ldetMs: [] }, costs: null, methods: null });
      expect(timeless(b)).toEqual(timeless(a));
      expect(b.methods.baseline.bestStep).toBe(a.methods.baseline.bestStep);
      expect(await readFile(conceptFiles(parallel, name).embeddings)).toEqual(await readFile(conceptFiles(out, name).embeddings));
    }
  }, 300_000);
});

describe("dvar evaluate flags", () => {
  it("prints its help and refuses bad usage with exit 2", async () => {
    expect(await main(["evaluate", "--help"])).toBe(0);
    expect(await main(["evaluate", "--model", "m", "--concepts", parent])).toBe(2); // no --out
    expect(await main(["evaluate", "--model", "m", "--concepts", parent, "--out", "o", "--dvar", "x"])).toBe(2);
    expect(await main(["evaluate", "--model", "m", "--concepts", parent, "--out", "o", "--ablation", "gamma"])).toBe(2);
    expect(await main(["evaluate", "--model", "m", "--concepts", parent, "--out", "o", "--concept", "gamma"])).toBe(2);
    expect(await main(["evaluate", "--model", "m", "--concepts", join(work, "nowhere"), "--out", "o"])).toBe(2);
    expect(await main(["evaluate", "--model", "m", "--concepts", parent, "--out", "o", "--tuning", work])).toBe(2); // not a --concepts folder
  });
});
