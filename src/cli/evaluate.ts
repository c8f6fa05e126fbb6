/**
 * `dvar evaluate`: DVAR against the 6,100-step baseline on a folder of concepts, with the
 * model's image scorer (issue 5's acceptance): prints the per-concept table and writes it
 * (markdown and JSON). Long-running: each concept trains the full baseline.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compareOnConcept, type ConceptResult, type ConceptSamples, markdownTable, summarise } from "../engine/evaluation/compare.js";
import { conceptGridPng } from "../engine/evaluation/grid.js";
import { PAPER_SCORE_SETTINGS } from "../engine/evaluation/reconstruction.js";
import { openGenerator } from "../engine/generate/pipeline.js";
import { describeInversion, type InitChoice } from "../engine/inversion/job.js";
import { openModelFolder } from "../engine/model/folder.js";
import { openImageScorer } from "../engine/scoring/image-scorer.js";
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";

const HELP = `Usage: dvar evaluate --model DIR --concepts DIR [options]

For each concept folder (3-10 images; a README.md naming "Suggested initializer word:
\`WORD\`" sets the initializer, else a random token): trains the baseline (fixed steps,
scored every --score-every steps, best kept) and DVAR from the same start, scores both
with the model's image scorer (--samples images of "a photo of a <concept>", --sample-steps
steps, guidance 7.5, seed 0), and prints the table. Acceptance: every DVAR run within 15%
of the baseline's steps and a median score of at least 95% of the baseline's.

  --model DIR          pipeline folder with image_encoder/ (the scorer)
  --concepts DIR       folder of concept folders
  --concept NAME       only this concept (repeatable)
  --baseline-steps N   default 6100
  --score-every N      default 500
  --samples N          default 8
  --sample-steps N     default 50
  --dvar PRESET        dvar (N=310, alpha=0.15; default) or dvar-paper
  --seed S             default 0
  --threads N          onnxruntime intra-op threads (default 0: all cores)
  --out FILE.md        also write the table there (and FILE.json)
  --grid FILE.png      write an image grid: per concept the training images and samples
                       from the initializer word, the DVAR and the baseline embeddings`;

function int(flag: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new CliUsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  return Number(text);
}

function initializerOf(dir: string): InitChoice {
  const readme = join(dir, "README.md");
  const match = existsSync(readme) ? /Suggested initializer word:\s*`([^`]+)`/.exec(readFileSync(readme, "utf8")) : null;
  return match ? { kind: "word", word: match[1]! } : { kind: "random" };
}

export const evaluateCommand: Subcommand = {
  name: "evaluate",
  summary: "DVAR vs the 6,100-step baseline on a folder of concepts (reconstruction scores)",
  async run(argv) {
    const values = parseFlags(argv, {
          model: { type: "string" }, concepts: { type: "string" }, concept: { type: "string", multiple: true },
          "baseline-steps": { type: "string" }, "score-every": { type: "string" }, samples: { type: "string" },
          "sample-steps": { type: "string" }, dvar: { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
          out: { type: "string" }, grid: { type: "string" }, help: { type: "boolean", short: "h" },
        });
    if (values.help) {
      process.stdout.write(HELP + "\n");
      return 0;
    }
    if (!values.model || !values.concepts) throw new CliUsageError("--model and --concepts are required (see dvar evaluate --help)");
    const dvar = values.dvar ?? "dvar";
    if (dvar !== "dvar" && dvar !== "dvar-paper") throw new CliUsageError(`--dvar must be dvar or dvar-paper, got '${dvar}'`);
    const baselineSteps = int("--baseline-steps", values["baseline-steps"], 6100);
    const settings = {
      baselineSteps,
      scoreEvery: int("--score-every", values["score-every"], 500),
      dvar: dvar as "dvar" | "dvar-paper",
      score: { ...PAPER_SCORE_SETTINGS, samples: int("--samples", values.samples, 8), steps: int("--sample-steps", values["sample-steps"], 50) },
      threads: int("--threads", values.threads, 0, 0),
      seed: int("--seed", values.seed, 0, 0),
      log: (line: string) => process.stderr.write(line + "\n"),
    };
    const folder = openModelFolder(values.model);
    const names = readdirSync(values.concepts).filter((n) => statSync(join(values.concepts!, n)).isDirectory()).sort();
    const chosen = values.concept ? names.filter((n) => values.concept!.includes(n)) : names;
    if (chosen.length === 0) throw new CliUsageError(`no concept folders to evaluate in ${values.concepts}`);
    const generator = await openGenerator(folder, settings.threads);
    const scorer = await openImageScorer(folder, settings.threads);
    const results: ConceptResult[] = [];
    const grid: Array<{ name: string; samples: ConceptSamples }> = [];
    try {
      for (const name of chosen) {
        const dir = join(values.concepts, name);
        const description = await describeInversion({ model: folder.root, images: dir, token: `<${name}>`, init: initializerOf(dir), seed: settings.seed });
        const { result, samples } = await compareOnConcept(name, folder, description, generator, scorer, settings);
        results.push(result);
        grid.push({ name, samples });
      }
    } finally {
      await generator.close();
      await scorer.release();
    }
    const summary = summarise(results, baselineSteps);
    const table = markdownTable(results, summary, baselineSteps);
    process.stdout.write(table + "\n");
    if (values.out) {
      await writeFile(values.out, table + "\n");
      await writeFile(values.out.replace(/\.md$/, "") + ".json", JSON.stringify({ settings: { ...settings, log: undefined }, results, summary }, null, 2) + "\n");
    }
    if (values.grid) await writeFile(values.grid, await conceptGridPng(grid));
    return summary.accepted ? 0 : 1;
  },
};
