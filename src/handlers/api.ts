/**
 * The API: the error model from app.ts, API keys on every `/v1/*` route, and the routes, each
 * registered from its own file. This file only wires.
 */
import { createApiApp, type AppOptions } from "./app.js";
import type { ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { requireApiKey, type AuthEnv } from "./middleware/require-api-key.js";
import { registerCancelInversion } from "./inversions-cancel.js";
import { registerCreateInversion } from "./inversions-create.js";
import { registerGetInversion } from "./inversions-get.js";
import { registerListInversions } from "./inversions-list.js";
import { registerCreateUpload } from "./uploads-create.js";
import { registerGetEmbedding } from "./inversions-embedding.js";
import { registerInversionEvents } from "./inversions-events.js";
import { registerGetUsage } from "./usage-get.js";
import { inspectUpload } from "../services/uploads/upload-service.js";
import { registerCreateGeneration } from "./generations-create.js";
import { registerGetGeneration } from "./generations-get.js";
import { registerGetGenerationImage } from "./generations-image.js";
import { registerOpenApi } from "./openapi.js";
import { registerDashboard } from "./dashboard/index.js";
import { registerGetWebhookSecret } from "./webhook-secret-get.js";
import { registerRotateWebhookSecret } from "./webhook-secret-rotate.js";

export function createApi(given: ApiDeps, options: AppOptions = {}): ApiApp {
  // Image files in multipart job requests are decoded with sharp, supplied here.
  const deps: ApiDeps = { inspectUpload, ...given };
  const app = createApiApp<AuthEnv>(options);
  app.use("/v1/*", requireApiKey(deps.keys));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", description: "An API key, sk_..." });
  registerCreateInversion(app, deps);
  registerListInversions(app, deps);
  registerGetInversion(app, deps);
  registerCancelInversion(app, deps);
  registerGetEmbedding(app, deps);
  registerInversionEvents(app, deps);
  registerCreateUpload(app, deps);
  // Generations run the engine (onnxruntime, sharp): Node-only routes.
  registerCreateGeneration(app, deps);
  registerGetGeneration(app, deps);
  registerGetGenerationImage(app, deps);
  registerGetUsage(app, deps);
  registerGetWebhookSecret(app, deps);
  registerRotateWebhookSecret(app, deps);
  registerOpenApi(app);
  registerDashboard(app);
  return app;
}
