/** Turns `dvar invert` flags into a run: a fresh synthetic run, or one resumed from a checkpoint. */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { decodeCheckpoint } from "../../core/checkpoint/index.js";
import { createInitialState, type InversionConfigInput, type InversionState, type Objective } from "../../core/inversion/index.js";
import { CRITERION_PRESETS, type CriterionSpec } from "../../core/stopping/index.js";
import { createSyntheticObjective, describeSynthetic, syntheticSettingsFrom } from "../../core/synthetic/objective.js";
import { stringifyExact } from "../../core/io/exact-json.js";
import { CliUsageError } from "../command.js";
import { DEFAULTS, type InvertOptions, type StopChoice } from "./args.js";

/** The synthetic objective is trained at the paper's unscaled learning rate. */
export const SYNTHETIC_LEARNING_RATE = 5e-3;

export interface PreparedRun {
  state: InversionState;
  objective: Objective;
  outDir: string;
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

function objectiveFor(state: InversionState): Objective {
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
    return { state, objective: objectiveFor(state), outDir: options.out ?? dirname(options.resume) };
  }
  const maxSteps = options.maxSteps ?? DEFAULTS.maxSteps;
  const config = syntheticConfig(options.seed ?? DEFAULTS.seed, maxSteps, options.stop ?? DEFAULTS.stop);
  const objective = createSyntheticObjective(config.seed, syntheticSettingsFrom(config.objective ?? {}));
  return { state: createInitialState(config, objective.initialParams()), objective, outDir: options.out ?? DEFAULTS.out };
}
