/**
 * Where a slice gets its Objective: a registry keyed by the config's `objective.kind`. The
 * synthetic objective is built in; the engine registers the diffusion objective ("textual-
 * inversion") when it exists. An unknown kind is a clear refusal, never a silent fallback.
 */
import type { InversionConfig } from "../../core/inversion/config.js";
import type { ExecutionProvider } from "../../runtime/session.js";
import type { Objective } from "../../core/inversion/objective.js";
import { createSyntheticObjective, syntheticSettingsFrom } from "../../core/synthetic/objective.js";
import type { Store } from "../../ports/store/index.js";
import type { ModelCatalog } from "../models/model-catalog.js";
import { textualInversionObjectiveFactory, TEXTUAL_INVERSION_KIND } from "./textual-inversion.js";

export interface PreparedObjective {
  readonly objective: Objective;
  /** The parameters before the first update (used only when the job has no checkpoint yet). */
  initialParams(): Float32Array;
  /** Releases what the objective holds (model sessions); the slice service calls it after the slice. */
  close?(): Promise<void>;
}

export type ObjectiveFactory = (config: InversionConfig, jobId: string) => Promise<PreparedObjective>;

export class UnsupportedObjectiveError extends Error {
  override readonly name = "UnsupportedObjectiveError";
}

/** The job's objective cannot be built from what it names (unknown model, undecodable image, ...): the job fails with `code`. */
export class ObjectiveInputError extends Error {
  override readonly name = "ObjectiveInputError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const syntheticObjectiveFactory: ObjectiveFactory = async (config) => {
  const objective = createSyntheticObjective(config.seed, syntheticSettingsFrom(config.objective));
  return { objective, initialParams: () => objective.initialParams() };
};

/** Dispatches on `config.objective.kind` to the factory registered for it. */
export function objectiveRegistry(factories: Readonly<Record<string, ObjectiveFactory>>): ObjectiveFactory {
  return async (config, jobId) => {
    const kind = config.objective.kind;
    const factory = typeof kind === "string" && Object.hasOwn(factories, kind) ? factories[kind] : undefined;
    if (!factory) {
      throw new UnsupportedObjectiveError(
        `job "${jobId}": objective kind ${JSON.stringify(kind)} is not available here (known: ${Object.keys(factories).join(", ") || "none"})`,
      );
    }
    return factory(config, jobId);
  };
}

export interface DefaultObjectivesDeps {
  /** Where uploads live; without it only the synthetic objective is available. */
  readonly store?: Store;
  readonly models?: ModelCatalog;
  /** onnxruntime execution providers of the model's sessions (default the CPU). */
  readonly executionProviders?: readonly ExecutionProvider[];
}

/** The objectives this build can run: the synthetic one, and Textual Inversion when a store is given. */
export function defaultObjectives(deps: DefaultObjectivesDeps = {}): ObjectiveFactory {
  return objectiveRegistry({
    synthetic: syntheticObjectiveFactory,
    ...(deps.store ? { [TEXTUAL_INVERSION_KIND]: textualInversionObjectiveFactory({ store: deps.store, models: deps.models, executionProviders: deps.executionProviders }) } : {}),
  });
}
