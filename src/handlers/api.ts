/**
 * The API as `dvar serve` runs it: the control-plane routes (control-plane.ts, which the
 * Workers entry serves too) plus the routes that need Node. Byte uploads, multipart job
 * images and training requests are checked with sharp and the engine here, so the control plane itself stays free of it. This file
 * only wires.
 */
import type { AppOptions } from "./app.js";
import type { ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { createControlPlaneApi } from "./control-plane.js";
import { TrainingInputChecker } from "../services/inversions/training-inputs.js";
import { inspectUpload, storeUpload } from "../services/uploads/upload-service.js";
import { registerCreateGeneration } from "./generations-create.js";
import { registerGetGeneration } from "./generations-get.js";
import { registerGetGenerationImage } from "./generations-image.js";

export function createApi(deps: ApiDeps, options: AppOptions = {}): ApiApp {
  // The engine's own checks of a training request (model, tokens, images) run at creation here.
  const trainingInputs = deps.trainingInputs ?? new TrainingInputChecker(deps.store, deps.models);
  const app = createControlPlaneApi({ storeUpload, inspectUpload, trainingInputs, ...deps }, options);
  // Routes that need Node (onnxruntime, sharp, the filesystem) register here.
  // Generations run the engine: Node-only.
  registerCreateGeneration(app, deps);
  registerGetGeneration(app, deps);
  registerGetGenerationImage(app, deps);
  return app;
}
