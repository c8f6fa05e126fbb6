/** Flags of `dvar invert`, parsed with node:util parseArgs; every mistake is a CliUsageError (exit 2). */
import { parseArgs } from "node:util";
import { CliUsageError } from "../command.js";

export const STOP_CHOICES = ["dvar", "dvar-paper", "dvar-tiny-sd", "fixed", "ema", "hall", "trend"] as const;
export type StopChoice = (typeof STOP_CHOICES)[number];

export interface InvertOptions {
  help: boolean;
  synthetic: boolean;
  /** Undefined when the flag was not given (so --resume can tell "not given" from "default"). */
  stop?: StopChoice;
  maxSteps?: number;
  seed?: number;
  sliceSteps?: number;
  out?: string;
  json: boolean;
  resume?: string;
  // The real objective (a model folder):
  model?: string;
  images?: string[];
  token?: string;
  /** An initializer word, "random" or "best". */
  init?: string;
  vectors?: number;
  property?: "object" | "style";
  learningRate?: number;
  scaleLr: boolean;
  batchSize?: number;
  evalBatchSize?: number;
  threads?: number;
  cacheDir?: string;
}

export const DEFAULTS = { stop: "dvar" as StopChoice, maxSteps: 6100, seed: 0, sliceSteps: 100, realSliceSteps: 10, out: "runs/synthetic", init: "random" };

export const HELP = `Usage: dvar invert --model DIR --images DIR|FILE... --token "<name>" [options]
       dvar invert --resume CHECKPOINT [options]
       dvar invert --synthetic [options]

Learns a Textual Inversion embedding for the concept in 3-10 images on a Stable
Diffusion pipeline in the Optimum ONNX layout, with early stopping (DVAR by default),
in slices: a checkpoint is written after each slice, Ctrl-C writes one and exits, and
--resume continues to the same result as an uninterrupted run.

Inputs:
  --model DIR          pipeline folder (text_encoder, unet, vae_encoder, vae_decoder,
                       tokenizer, scheduler; Optimum ONNX layout)
  --images DIR|FILE... a folder (its .jpg/.jpeg/.png/.webp files, sorted by name) or
                       image files (JPEG, PNG, WebP); more files may follow as arguments
  --token NAME         the placeholder token to learn, e.g. "<my-cat>" (must not be in
                       the vocabulary)
  --init WORD|random|best
                       initialise from a one-token word, from a random vocabulary token
                       (default), or best: the vocabulary word whose generated images
                       score closest to yours (needs the model's image_encoder/ scorer)
  --vectors K          learned vectors per token (default 1; extra tokens NAME_1 ...)
  --property P         object (default) or style: which caption templates to train on
Training (defaults: diffusers' textual_inversion.py and the DVAR paper):
  --lr X               base learning rate (default 0.005), multiplied by the batch size
                       unless --no-scale-lr (diffusers' --scale_lr)
  --no-scale-lr        use --lr as given
  --batch-size B       training batch (default 4)
  --eval-batch-size B  DVAR evaluation batch, drawn once (default 4)
  --stop RULE          stopping rule: dvar (N=310, alpha=0.15; default), dvar-paper
                       (N=282, alpha=0.39), dvar-tiny-sd (N=310, alpha=0.8, calibrated for
                       the bundled model), fixed (stop at --max-steps), ema, hall, trend
  --max-steps N        hard cap on steps (default ${DEFAULTS.maxSteps}, the paper's baseline)
  --seed S             job seed: every random draw derives from it (default ${DEFAULTS.seed})
Running:
  --slice-steps N      steps per slice; a checkpoint and a progress line after each
                       (default ${DEFAULTS.realSliceSteps}; synthetic ${DEFAULTS.sliceSteps})
  --threads N          onnxruntime intra-op threads (default 0: all cores)
  --cache-dir DIR      compiled-graph cache (default ~/.cache/dvar/compiled)
  --out DIR            output folder (default runs/<token>; with --resume, the
                       checkpoint's folder)
  --json               print progress and the summary as JSON lines
  --resume FILE        continue from a checkpoint: its configuration is used (model,
                       images and token are checked by hash); --seed, --stop and
                       --max-steps, if given, must match it; --model and --images say
                       where the same files are now, if they moved
  --synthetic          run the 32-parameter synthetic objective instead of a model (a
                       stand-in whose training loss has no visible trend while L_det
                       falls and plateaus, as in the paper's Figure 1)
  -h, --help           show this help

Files written to DIR: learned_embeds.safetensors (diffusers: {token: [k, H]}),
NAME.safetensors and NAME.pt (AUTOMATIC1111-readable safetensors and A1111's own
torch.save layout; NAME is the token's ASCII letters, digits, _ and -, also the
name written inside them), history.json,
history.csv and history.svg (training loss, L_det, DVAR ratio per step),
checkpoint.safetensors (the whole run state), summary.json. Synthetic runs write
params.safetensors instead of the embeddings, and no plot.
Exit codes: 0 finished (converged or max steps), 1 run failed or input refused,
2 bad usage, 130 interrupted.`;

function positiveInteger(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new CliUsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  }
  return Number(text);
}

function positiveNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) throw new CliUsageError(`${flag} must be a positive number, got '${text}'`);
  return value;
}

export function parseInvertArgs(argv: string[]): InvertOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      tokens: true,
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
        model: { type: "string" },
        images: { type: "string", multiple: true },
        token: { type: "string" },
        init: { type: "string" },
        vectors: { type: "string" },
        property: { type: "string" },
        lr: { type: "string" },
        "no-scale-lr": { type: "boolean" },
        "batch-size": { type: "string" },
        "eval-batch-size": { type: "string" },
        threads: { type: "string" },
        "cache-dir": { type: "string" },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const v = parsed.values;
  const options: InvertOptions = { help: v.help ?? false, synthetic: v.synthetic ?? false, json: v.json ?? false, scaleLr: !(v["no-scale-lr"] ?? false) };
  if (options.help) return options;
  const sliceSteps = positiveInteger("--slice-steps", v["slice-steps"], 1);
  if (sliceSteps !== undefined) options.sliceSteps = sliceSteps;
  // Image files in command-line order: --images values and the arguments after them.
  const images: string[] = [];
  for (const token of parsed.tokens) {
    if (token.kind === "option" && token.name === "images" && token.value !== undefined) images.push(token.value);
    else if (token.kind === "positional") {
      if (images.length === 0) throw new CliUsageError(`unexpected positional argument '${token.value}' (image files follow --images)`);
      images.push(token.value);
    }
  }
  if (images.length > 0) options.images = images;
  const real = ["model", "images", "token", "init", "vectors", "property", "lr", "batch-size", "eval-batch-size"] as const;
  if (options.synthetic) {
    const given = real.filter((flag) => v[flag] !== undefined);
    if (given.length > 0) throw new CliUsageError(`--synthetic takes no model inputs (got --${given.join(", --")})`);
  } else if (v.resume === undefined) {
    const missing = (["model", "images", "token"] as const).filter((flag) => v[flag] === undefined);
    if (missing.length > 0) {
      throw new CliUsageError(`missing --${missing.join(", --")}: give --model, --images and --token (or --resume, or --synthetic); see dvar invert --help`);
    }
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
  for (const [flag, value] of [["--out", v.out], ["--model", v.model], ["--token", v.token], ["--init", v.init], ["--cache-dir", v["cache-dir"]]] as const) {
    if (value === "") throw new CliUsageError(`${flag} must not be empty`);
  }
  if (v.out !== undefined) options.out = v.out;
  if (v.resume !== undefined) options.resume = v.resume;
  if (v.model !== undefined) options.model = v.model;
  if (v.token !== undefined) options.token = v.token;
  if (v.init !== undefined) options.init = v.init;
  if (v.property !== undefined) {
    if (v.property !== "object" && v.property !== "style") throw new CliUsageError(`--property must be object or style, got '${v.property}'`);
    options.property = v.property;
  }
  const vectors = positiveInteger("--vectors", v.vectors, 1);
  if (vectors !== undefined) options.vectors = vectors;
  const lr = positiveNumber("--lr", v.lr);
  if (lr !== undefined) options.learningRate = lr;
  const batch = positiveInteger("--batch-size", v["batch-size"], 1);
  if (batch !== undefined) options.batchSize = batch;
  const evalBatch = positiveInteger("--eval-batch-size", v["eval-batch-size"], 1);
  if (evalBatch !== undefined) options.evalBatchSize = evalBatch;
  const threads = positiveInteger("--threads", v.threads, 0);
  if (threads !== undefined) options.threads = threads;
  if (v["cache-dir"] !== undefined) options.cacheDir = v["cache-dir"];
  return options;
}
