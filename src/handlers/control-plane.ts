/**
 * The control plane: every route that only reads and writes the Store and dispatches slices
 * (uploads, inversions, usage, webhook secret, OpenAPI, docs, dashboard). It imports nothing
 * that needs Node (onnxruntime, sharp, the filesystem), so the same routes serve both from
 * `dvar serve` (src/handlers/api.ts adds the Node-only routes) and from Cloudflare Workers
 * (src/workers/control-plane.ts). A route that runs models belongs in api.ts, not here; the
 * Workers bundle test (test/workers/bundle.test.ts) fails if this graph grows a Node-only import.
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
import { registerOpenApi } from "./openapi.js";
import { registerDashboard } from "./dashboard/index.js";
import { registerGetWebhookSecret } from "./webhook-secret-get.js";
import { registerRotateWebhookSecret } from "./webhook-secret-rotate.js";

/** The app with the error model, API keys on `/v1/*`, and the control-plane routes. */
export function createControlPlaneApi(deps: ApiDeps, options: AppOptions = {}): ApiApp {
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
  registerGetUsage(app, deps);
  registerGetWebhookSecret(app, deps);
  registerRotateWebhookSecret(app, deps);
  registerOpenApi(app);
  registerDashboard(app);
  return app;
}
