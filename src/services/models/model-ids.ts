/**
 * What the API needs to know about models: which ids are served. Pure (no filesystem), so the
 * control plane can check a job's model id where model folders do not exist (Workers);
 * model-catalog.ts maps ids to folders on the machines that run slices.
 */
/** The id of the model bundled with the project (models/tiny-sd). */
export const BUNDLED_MODEL_ID = "tiny-sd";

export class UnknownModelError extends Error {
  override readonly name = "UnknownModelError";
}

export interface ModelCatalog {
  /** The ids served, for messages and docs. */
  ids(): string[];
  /** The model folder of `id`; throws UnknownModelError for an id not served. */
  resolve(id: string): string;
}

/** The error for an id not served, naming those that are. */
export function unknownModel(id: string, served: readonly string[]): UnknownModelError {
  return new UnknownModelError(`model "${id}" is not served here (available: ${served.join(", ") || "none"})`);
}

/** A catalog that knows ids only (the Workers control plane): `resolve` answers the id itself. */
export function modelIdCatalog(ids: readonly string[]): ModelCatalog {
  const served = [...ids];
  return {
    ids: () => [...served],
    resolve(id) {
      if (!served.includes(id)) throw unknownModel(id, served);
      return id;
    },
  };
}
