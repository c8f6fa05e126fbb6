/** Flags of `dvar invert`, parsed with node:util parseArgs; every mistake is a CliUsageError (exit 2). */
import { parseArgs } from "node:util";
import { CliUsageError } from "../command.js";

export const STOP_CHOICES = ["dvar", "dvar-paper", "fixed", "ema", "hall", "trend"] as const;
export type StopChoice = (typeof STOP_CHOICES)[number];

export interface InvertOptions {
  help: boolean;
  synthetic: boolean;
  /** Undefined when the flag was not given (so --resume can tell "not given" from "default"). */
  stop?: StopChoice;
  maxSteps?: number;
  seed?: number;
  sliceSteps: number;
  out?: string;
  json: boolean;
  resume?: string;
}

export const DEFAULTS = { stop: "dvar" as StopChoice, maxSteps: 6100, seed: 0, sliceSteps: 100, out: "runs/synthetic" };

export const HELP = `Usage: dvar invert --synthetic [options]

Runs a textual inversion with early stopping, in slices, writing a checkpoint after
each slice. Until the diffusion engine lands, only the SYNTHETIC objective exists: a
32-parameter stand-in for a concept embedding whose training loss is dominated by a
random timestep (no visible trend), while the loss on a fixed batch (L_det) falls and
plateaus, as in the paper's Figure 1.

Options:
  --synthetic          run the synthetic objective (required for now)
  --stop RULE          stopping rule: dvar (N=310, alpha=0.15; default), dvar-paper
                       (N=282, alpha=0.39), fixed (stop at --max-steps), ema, hall, trend
  --max-steps N        hard cap on steps (default ${DEFAULTS.maxSteps}, the paper's baseline)
  --slice-steps N      steps per slice; a checkpoint is written after each (default ${DEFAULTS.sliceSteps})
  --seed S             job seed: every random draw derives from it (default ${DEFAULTS.seed})
  --out DIR            output folder (default ${DEFAULTS.out}; with --resume, the checkpoint's folder)
  --json               print progress and the summary as JSON lines
  --resume FILE        continue from a checkpoint (its configuration is used; --stop,
                       --seed and --max-steps, if given, must match it)
  -h, --help           show this help

Files written to DIR: checkpoint.safetensors (the whole run state), params.safetensors
(final and best parameters), history.json and history.csv (per step: training loss,
L_det, gradient norm, rule value, score, wall time), summary.json.
Ctrl-C writes a checkpoint and exits with code 130; --resume continues it to the same
result. Exit codes: 0 finished (converged or max steps), 1 run failed or checkpoint
refused, 2 bad usage, 130 interrupted.`;

function positiveInteger(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new CliUsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  }
  return Number(text);
}

export function parseInvertArgs(argv: string[]): InvertOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        synthetic: { type: "boolean" },
        stop: { type: "string" },
        "max-steps": { type: "string" },
        "slice-steps": { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        json: { type: "boolean" },
        resume: { type: "string" },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const v = parsed.values;
  const options: InvertOptions = {
    help: v.help ?? false,
    synthetic: v.synthetic ?? false,
    sliceSteps: positiveInteger("--slice-steps", v["slice-steps"], 1) ?? DEFAULTS.sliceSteps,
    json: v.json ?? false,
  };
  if (options.help) return options;
  if (!options.synthetic) {
    throw new CliUsageError("only the synthetic objective exists so far: pass --synthetic (see dvar invert --help)");
  }
  if (v.stop !== undefined) {
    if (!(STOP_CHOICES as readonly string[]).includes(v.stop)) {
      throw new CliUsageError(`--stop must be one of ${STOP_CHOICES.join(", ")}, got '${v.stop}'`);
    }
    options.stop = v.stop as StopChoice;
  }
  const maxSteps = positiveInteger("--max-steps", v["max-steps"], 1);
  if (maxSteps !== undefined) options.maxSteps = maxSteps;
  const seed = positiveInteger("--seed", v.seed, 0);
  if (seed !== undefined) options.seed = seed;
  if (v.out !== undefined) {
    if (v.out === "") throw new CliUsageError("--out must not be empty");
    options.out = v.out;
  }
  if (v.resume !== undefined) options.resume = v.resume;
  return options;
}
