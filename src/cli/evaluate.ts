/**
 * `dvar evaluate`: the trajectory study. Per concept ONE deterministic training run,
 * scored every 50 steps, from which the paper's methods (Baseline, CLIP-s, Few iters,
 * DVAR with both presets) are derived post hoc; prints issue 5's acceptance table and
 * writes the paper's Table 1, Figure-1-style plots, the image grid and the
 * semi-deterministic ablation (src/engine/evaluation/study.ts).
 */
import { dirname, join, resolve } from "node:path";
import { runStudy } from "../engine/evaluation/study.js";
import { acceptanceMarkdown } from "../engine/evaluation/study-report.js";
import { defaultStudySettings, DVAR_PRESETS, type DvarPreset, findConcepts, STUDY_DEFAULTS } from "../engine/evaluation/study-settings.js";
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";

const HELP = `Usage: dvar evaluate --model DIR --concepts DIR [--concepts DIR ...] --out DIR [options]

The paper's evaluation as one trajectory study. For each concept folder (3-10 images; a
README.md naming "Suggested initializer word: \`WORD\`" sets the initializer, else a
random token) it trains ONE run to --steps with the engine (same seed, batches and
initialisation as dvar invert), keeps the embedding of every step, records training
loss, L_det, gradient norm, both DVAR ratios (N=310/alpha=0.15 and N=282/alpha=0.39) and
step times, and scores the embedding every 50 steps with the model's image scorer
(--samples images of "a photo of a <concept>", --sample-steps DDIM steps, guidance 7.5,
sampling seed 0). Every stopping rule reads only the run's history, so each method is a
prefix of that run:
  Baseline   best score among the checkpoints every 500 steps and the last one
  CLIP-s     stops after 5 scores without an improvement > 0.05 (every 50 steps)
  Few iters  fixed steps: the max and the mean of the CLIP-s stops over the concepts
  DVAR       the first step where the rule fires (both presets)
Time = training time to the method's step + its evaluations (a score at the paper's
settings, 8 samples x 50 steps, timed once per concept; L_det for DVAR).

Written to --out: concepts/NAME.json (the concept's record, written when it finishes;
a rerun skips finished concepts made with the same settings), concepts/NAME.embeddings.safetensors
(every step's vectors), figures/NAME.svg (training loss, gradient norm, score, L_det),
figures/ablation.svg, grid.png (per concept: training images, initializer-word,
DVAR and baseline samples), study.json, report.md (issue 5's table, Table 1, ablation).
With --tuning, DVAR's N and alpha are calibrated on the concepts of those folders (the
tuning set; every other concept is held out): each candidate of a grid (N in 50..310,
alpha in 0.1..0.8) is replayed on the recorded L_det; feasible candidates stop every
tuning concept within 15% of --steps; among them the cheapest (median steps) whose median
score, as a share of the baseline's median, is within 1 point of the best is chosen. The acceptance table
then judges the chosen N and alpha on the tuning concepts, and a second table shows them
on the held-out ones (report.md, study.json "calibration").

Exit code 0 when issue 5's bar is met (every DVAR stop within 15% of --steps, median
score >= 95% of the baseline's; with --tuning: on the tuning concepts), 1 when not.

  --model DIR          pipeline folder with image_encoder/ (the scorer)
  --concepts DIR       folder of concept folders (repeatable)
  --concept NAME       only this concept (repeatable)
  --tuning DIR         calibrate N and alpha on the concepts in DIR (one of the --concepts
                       folders; repeatable); the other concepts are held out
  --out DIR            output folder (required)
  --steps N            training steps per concept (default ${STUDY_DEFAULTS.steps})
  --samples N          images per score (default ${STUDY_DEFAULTS.score.samples})
  --sample-steps N     DDIM steps per score (default ${STUDY_DEFAULTS.score.steps}; the paper: 50)
  --dvar PRESET        the preset of the acceptance table and grid: dvar (default) or dvar-paper
  --ablation NAME      concept of the semi-deterministic ablation (default: the first;
                       none: skip)
  --ablation-steps N   its steps (default ${STUDY_DEFAULTS.ablationSteps})
  --seed S             training seed (default 0)
  --jobs N             concepts at once, each in its own process (default 1)
  --threads N          onnxruntime intra-op threads per process (default 0: all cores)`;

function int(flag: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new CliUsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  return Number(text);
}

export const evaluateCommand: Subcommand = {
  name: "evaluate",
  summary: "the paper's evaluation on a folder of concepts: one run per concept, every method derived from it",
  async run(argv) {
    const values = parseFlags(argv, {
      model: { type: "string" }, concepts: { type: "string", multiple: true }, concept: { type: "string", multiple: true },
      out: { type: "string" }, steps: { type: "string" }, samples: { type: "string" }, "sample-steps": { type: "string" },
      dvar: { type: "string" }, ablation: { type: "string" }, "ablation-steps": { type: "string" }, seed: { type: "string" },
      jobs: { type: "string" }, threads: { type: "string" }, tuning: { type: "string", multiple: true }, help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      process.stdout.write(HELP + "\n");
      return 0;
    }
    if (!values.model || !values.concepts || !values.out) throw new CliUsageError("--model, --concepts and --out are required (see dvar evaluate --help)");
    const preset = values.dvar ?? "dvar";
    if (!(DVAR_PRESETS as readonly string[]).includes(preset)) throw new CliUsageError(`--dvar must be dvar or dvar-paper, got '${preset}'`);
    let concepts;
    try {
      concepts = findConcepts(values.concepts, values.concept);
    } catch (error) {
      throw new CliUsageError((error as Error).message);
    }
    if (concepts.length === 0) throw new CliUsageError(`no concept folders in ${values.concepts.join(", ")}`);
    let tuning: string[] | undefined;
    if (values.tuning) {
      const resolved = values.concepts.map((d) => resolve(d));
      const outside = values.tuning.filter((d) => !resolved.includes(resolve(d)));
      if (outside.length > 0) throw new CliUsageError(`--tuning ${outside.join(", ")} is not one of the --concepts folders`);
      tuning = concepts.filter((c) => values.tuning!.some((d) => resolve(dirname(c.dir)) === resolve(d))).map((c) => c.name);
      if (tuning.length === 0) throw new CliUsageError(`no concept studied is in --tuning ${values.tuning.join(", ")}`);
    }
    const ablation = values.ablation ?? concepts[0]!.name;
    if (ablation !== "none" && !concepts.some((c) => c.name === ablation)) throw new CliUsageError(`--ablation ${ablation} is not one of the concepts studied`);
    const settings = defaultStudySettings(values.model, {
      steps: int("--steps", values.steps, STUDY_DEFAULTS.steps),
      seed: int("--seed", values.seed, STUDY_DEFAULTS.seed, 0),
      score: { ...STUDY_DEFAULTS.score, samples: int("--samples", values.samples, STUDY_DEFAULTS.score.samples), steps: int("--sample-steps", values["sample-steps"], STUDY_DEFAULTS.score.steps) },
      ablation: { concept: ablation === "none" ? null : ablation, steps: int("--ablation-steps", values["ablation-steps"], STUDY_DEFAULTS.ablationSteps, 0) },
      threads: int("--threads", values.threads, 0, 0),
    });
    const { report, files } = await runStudy({
      concepts,
      settings,
      out: values.out,
      preset: preset as DvarPreset,
      ...(tuning ? { calibrate: { tuning } } : {}),
      jobs: int("--jobs", values.jobs, 1),
      command: `dvar evaluate ${argv.join(" ")}`,
      log: (line) => process.stderr.write(line + "\n"),
    });
    process.stdout.write(acceptanceMarkdown(report.acceptance) + "\n");
    process.stdout.write(`Report: ${join(values.out, "report.md")} (${files.length} files written)\n`);
    return report.acceptance.pass ? 0 : 1;
  },
};
