/**
 * Turns `dvar invert` flags into a run: a fresh textual inversion on a model folder or a
 * synthetic run, or either resumed from a checkpoint (the checkpoint's config says which).
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { decodeCheckpoint } from "../../core/checkpoint/index.js";
import { createInitialState, type InversionConfigInput, type InversionState, type Objective } from "../../core/inversion/index.js";
import { CRITERION_PRESETS, type CriterionSpec } from "../../core/stopping/index.js";
import { createSyntheticObjective, describeSynthetic, syntheticSettingsFrom } from "../../core/synthetic/objective.js";
import { stringifyExact } from "../../core/io/exact-json.js";
import { CliUsageError } from "../command.js";
import {
  describeInversion,
  type InitChoice,
  inversionRunConfig,
  type InversionDescription,
  openInversion,
  parseDescription,
} from "../../engine/inversion/job.js";
import { a1111EmbeddingName } from "../../engine/embeddings/a1111-name.js";
import { writeInversionOutputs } from "../../engine/inversion/outputs.js";
import { DEFAULTS, type InvertOptions, type StopChoice } from "./args.js";

/** The synthetic objective is trained at the paper's unscaled learning rate. */
export const SYNTHETIC_LEARNING_RATE = 5e-3;

export interface PreparedRun {
  kind: "synthetic" | "textual-inversion";
  state: InversionState;
  objective: Objective;
  outDir: string;
  sliceSteps: number;
  /** Writes the run's own outputs (embeddings, plot) beside the common ones; returns their paths. */
  writeOutputs?(state: InversionState): Promise<string[]>;
  /** Releases model sessions. */
  close(): Promise<void>;
  /** What a model run starts from (printed once). */
  start?: { token: string; images: number; initializer: string; init: string; learningRate: number; batchSize: number; evalBatchSize: number; step: number };
}

function stopSpec(choice: StopChoice, maxSteps: number): CriterionSpec {
  // "fixed" means the paper's baseline: run to the step cap.
  return choice === "fixed" ? { name: "fixed", steps: maxSteps } : CRITERION_PRESETS[choice];
}

export function syntheticConfig(seed: number, maxSteps: number, stop: StopChoice): InversionConfigInput {
  return {
    seed,
    maxSteps,
    learningRate: SYNTHETIC_LEARNING_RATE,
    optimizer: { name: "adamw" },
    stop: stopSpec(stop, maxSteps),
    objective: describeSynthetic(),
  };
}

function syntheticObjectiveFor(state: InversionState): Objective {
  try {
    return createSyntheticObjective(state.config.seed, syntheticSettingsFrom(state.config.objective));
  } catch (error) {
    throw new CliUsageError(`the checkpoint is not of a synthetic run: ${(error as Error).message}`);
  }
}

/** Flags given together with --resume must agree with the checkpoint's configuration. */
function checkFlagsAgree(options: InvertOptions, state: InversionState): void {
  const { config } = state;
  if (options.seed !== undefined && options.seed !== config.seed) {
    throw new CliUsageError(`--seed ${options.seed} does not match the checkpoint's seed ${config.seed}`);
  }
  if (options.maxSteps !== undefined && options.maxSteps !== config.maxSteps) {
    throw new CliUsageError(`--max-steps ${options.maxSteps} does not match the checkpoint's ${config.maxSteps}`);
  }
  if (options.stop !== undefined && stringifyExact(stopSpec(options.stop, config.maxSteps)) !== stringifyExact(config.stop)) {
    throw new CliUsageError(`--stop ${options.stop} does not match the checkpoint's rule ${stringifyExact(config.stop)}`);
  }
}

function initChoice(text: string | undefined): InitChoice {
  const init = text ?? DEFAULTS.init;
  if (init === "random") return { kind: "random" };
  if (init === "best") return { kind: "best" };
  return { kind: "word", word: init };
}

/** Default output folder of a token: runs/<its A1111 name>. */
export function defaultOutDir(token: string): string {
  return join("runs", a1111EmbeddingName(token));
}

export function inversionConfig(description: InversionDescription, seed: number, maxSteps: number, stop: StopChoice): InversionConfigInput {
  return inversionRunConfig(description, seed, maxSteps, stopSpec(stop, maxSteps));
}

/** Opens the model objective; `resumed` is the checkpoint's state, or null to start from the config. */
async function openReal(
  config: InversionConfigInput,
  resumed: InversionState | null,
  description: InversionDescription,
  options: InvertOptions,
  outDir: string,
): Promise<PreparedRun> {
  const fresh = resumed === null;
  const open = await openInversion(description, config.seed, {
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(!fresh && options.model !== undefined ? { modelDir: options.model } : {}),
    ...(!fresh && options.images !== undefined ? { images: options.images } : {}),
  });
  const initial = resumed ?? createInitialState(config, open.initialParams);
  return {
    kind: "textual-inversion",
    state: initial,
    objective: open.objective,
    outDir,
    sliceSteps: options.sliceSteps ?? DEFAULTS.realSliceSteps,
    writeOutputs: (s) => writeInversionOutputs(outDir, s, description.token, description.numVectors),
    close: open.close,
    start: {
      token: description.token,
      images: description.images.length,
      initializer: description.initializer.token,
      init: description.initializer.kind,
      learningRate: initial.config.learningRate,
      batchSize: description.batchSize,
      evalBatchSize: description.evalBatchSize,
      step: initial.step,
    },
  };
}

export async function prepareRun(options: InvertOptions): Promise<PreparedRun> {
  if (options.resume !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(options.resume);
    } catch (error) {
      throw new CliUsageError(`cannot read --resume ${options.resume}: ${(error as Error).message}`);
    }
    const state = decodeCheckpoint(bytes); // a CheckpointError explains any refusal
    checkFlagsAgree(options, state);
    const outDir = options.out ?? dirname(options.resume);
    if (state.config.objective.kind === "textual-inversion") {
      if (options.synthetic) throw new CliUsageError("the checkpoint is of a textual inversion on a model, not a synthetic run");
      const description = parseDescription(state.config.objective);
      if (options.token !== undefined && options.token !== description.token) {
        throw new CliUsageError(`--token ${options.token} does not match the checkpoint's token ${description.token}`);
      }
      return openReal(state.config, state, description, options, outDir);
    }
    return { kind: "synthetic", state, objective: syntheticObjectiveFor(state), outDir, sliceSteps: options.sliceSteps ?? DEFAULTS.sliceSteps, close: async () => {} };
  }
  const maxSteps = options.maxSteps ?? DEFAULTS.maxSteps;
  const seed = options.seed ?? DEFAULTS.seed;
  const stop = options.stop ?? DEFAULTS.stop;
  if (!options.synthetic) {
    const description = await describeInversion({
      model: options.model!,
      images: options.images!,
      token: options.token!,
      init: initChoice(options.init),
      seed,
      ...(options.vectors !== undefined ? { numVectors: options.vectors } : {}),
      ...(options.property !== undefined ? { property: options.property } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      ...(options.evalBatchSize !== undefined ? { evalBatchSize: options.evalBatchSize } : {}),
      ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
      scaleLr: options.scaleLr,
    }, options.threads !== undefined ? { threads: options.threads } : {});
    return openReal(inversionConfig(description, seed, maxSteps, stop), null, description, options, options.out ?? defaultOutDir(description.token));
  }
  const config = syntheticConfig(seed, maxSteps, stop);
  const objective = createSyntheticObjective(config.seed, syntheticSettingsFrom(config.objective ?? {}));
  return {
    kind: "synthetic",
    state: createInitialState(config, objective.initialParams()),
    objective,
    outDir: options.out ?? DEFAULTS.out,
    sliceSteps: options.sliceSteps ?? DEFAULTS.sliceSteps,
    close: async () => {},
  };
}
