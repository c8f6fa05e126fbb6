#!/usr/bin/env node
// How cheap can the study's score be? For one concept of a finished study (its embeddings
// file), scores checkpoints with several sampler settings: time per score, the sd between
// sampling seeds at one checkpoint, and the correlation with the paper's 50-step score
// across checkpoints. Needs `npm run build`. Usage:
//   node tools/study/score-settings.mjs MODEL CONCEPT_DIR EMBEDDINGS_FILE [STEP,STEP,...] [SEED_STEP]
import { basename } from "node:path";
import { describeConcept, embeddingFromFile, openConceptScorer } from "../../dist/src/engine/evaluation/concept-study.js";
import { defaultStudySettings } from "../../dist/src/engine/evaluation/study-settings.js";

const [model, dir, file, stepList = "0,50,100,200,300,400,500", seedStep = "200"] = process.argv.slice(2);
if (!file) throw new Error("usage: score-settings.mjs MODEL CONCEPT_DIR EMBEDDINGS_FILE [STEPS] [SEED_STEP]");
const settings = defaultStudySettings(model, { threads: 0 });
const scorer = await openConceptScorer(model, await describeConcept({ name: basename(dir), dir }, settings), 0);
const steps = stepList.split(",").map(Number);
const variants = [[8, 50], [8, 20], [8, 10], [4, 10], [4, 20]];
const mean = (x) => x.reduce((a, b) => a + b, 0) / x.length;
const sd = (x) => Math.sqrt(x.reduce((a, b) => a + (b - mean(x)) ** 2, 0) / (x.length - 1));
const corr = (a, b) => {
  const [ma, mb] = [mean(a), mean(b)];
  let n = 0, da = 0, db = 0;
  a.forEach((x, i) => ((n += (x - ma) * (b[i] - mb)), (da += (x - ma) ** 2), (db += (b[i] - mb) ** 2)));
  return n / Math.sqrt(da * db);
};
const byCheckpoint = {};
console.log(`samples steps | ms/score | sd over 4 seeds at step ${seedStep} | corr with 8x50 over steps ${stepList}`);
for (const [samples, sampleSteps] of variants) {
  const score = async (step, seed) => scorer.score(await embeddingFromFile(file, step), { samples, steps: sampleSteps, guidance: 7.5, seed, property: "object" });
  const runs = [];
  for (const step of steps) runs.push(await score(step, 0));
  const seeds = [];
  for (const seed of [0, 1000, 2000, 3000]) seeds.push((await score(Number(seedStep), seed)).score);
  byCheckpoint[`${samples}x${sampleSteps}`] = runs.map((r) => r.score);
  const ms = mean(runs.map((r) => r.ms));
  console.log(`${samples} ${sampleSteps} | ${ms.toFixed(0)} | ${sd(seeds).toFixed(4)} | ${corr(byCheckpoint[`${samples}x${sampleSteps}`], byCheckpoint["8x50"]).toFixed(3)}`);
}
await scorer.close();
