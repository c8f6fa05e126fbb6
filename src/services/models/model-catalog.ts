/**
 * Which model ids a deployment serves, and the model folder behind each. Jobs name a model by
 * id, never by path, so a client cannot point the engine at an arbitrary folder.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLED_MODEL_ID, unknownModel, type ModelCatalog } from "./model-ids.js";

export { UnknownModelError, type ModelCatalog } from "./model-ids.js";

/** A catalog over a fixed id -> folder table. */
export function modelCatalog(folders: Readonly<Record<string, string>>): ModelCatalog {
  const table = new Map(Object.entries(folders).map(([id, dir]) => [id, resolve(dir)]));
  return {
    ids: () => [...table.keys()],
    resolve(id) {
      const dir = table.get(id);
      if (dir === undefined) throw unknownModel(id, [...table.keys()]);
      return dir;
    },
  };
}

/** The package root (the folder holding package.json), from this module's location in src/ or dist/src/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the package root (no package.json above the model catalog)");
    dir = up;
  }
  return dir;
}

/** The default catalog: the bundled tiny model. */
export function defaultModelCatalog(): ModelCatalog {
  return modelCatalog({ [BUNDLED_MODEL_ID]: join(packageRoot(), "models", BUNDLED_MODEL_ID) });
}
