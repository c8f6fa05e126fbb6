/**
 * The control plane as Workers serve it: the control-plane routes of the same Hono app
 * `dvar serve` runs (src/handlers/control-plane.ts), with state on R2 through its S3 API
 * (S3Store) and slices handed to the Node side over signed HTTP (HttpDispatcher). Routes that
 * run models are not served here: they answer 501 not_available_on_edge. Imports only what runs
 * on Workers; test/workers/bundle.test.ts checks the bundle.
 */
import type { ApiApp } from "../handlers/api-env.js";
import type { ApiDeps } from "../handlers/deps.js";
import { createControlPlaneApi } from "../handlers/control-plane.js";
import { ApiError } from "../handlers/errors/api-error.js";
import { HttpDispatcher } from "../ports/dispatcher/http/http-dispatcher.js";
import { S3Store } from "../ports/store/s3-store.js";
import type { Store } from "../ports/store/store.js";
import { ApiKeyRegistry } from "../services/auth/key-registry.js";
import { modelIdCatalog } from "../services/models/model-ids.js";
import { OutboxJobEventSink } from "../services/webhooks/outbox.js";
import type { EdgeConfig } from "./config.js";

/** Paths only the Node API serves (they run models); the Worker answers them with a problem. */
export const NODE_ONLY_PATHS = ["/v1/generations", "/v1/generations/*"] as const;

/** How often an SSE stream re-reads the job record on the Worker (Node: 500 ms). */
export const EDGE_EVENTS_POLL_MS = 2000;

/** Test seams: another store or transport than the configuration's. */
export interface EdgeOverrides {
  readonly store?: Store;
  readonly dispatcher?: ApiDeps["dispatcher"];
  readonly dispatchFetch?: ConstructorParameters<typeof HttpDispatcher>[0]["fetch"];
  readonly webhookResolve?: (hostname: string) => Promise<readonly string[]>;
}

export function createEdgeApp(config: EdgeConfig, overrides: EdgeOverrides = {}): ApiApp {
  const s3 = overrides.store ? undefined : new S3Store({ ...config.store, credentials: config.credentials });
  const store = overrides.store ?? s3!;
  const dispatcher =
    overrides.dispatcher ??
    new HttpDispatcher({ url: config.dispatch.url, secrets: config.dispatch.secrets, timeoutMs: config.dispatch.timeoutMs, ...(overrides.dispatchFetch ? { fetch: overrides.dispatchFetch } : {}) });
  const deps: ApiDeps = {
    store,
    dispatcher,
    keys: new ApiKeyRegistry(store),
    models: modelIdCatalog(config.models),
    webhookPolicy: { allowPrivateAddresses: config.allowPrivateWebhooks, ...(overrides.webhookResolve ? { resolve: overrides.webhookResolve } : {}) },
    // Cancel events go to the outbox in the store; the Node side's delivery loop sends them.
    events: new OutboxJobEventSink(store, () => {}),
    // Every poll of an SSE stream is a subrequest, and Workers cap those per request: poll
    // slower than Node does; a stream cut at the cap resumes from Last-Event-ID on reconnect.
    eventsPollMs: EDGE_EVENTS_POLL_MS,
    ...(s3 ? { presignUpload: (key: string, type: string, ttl: number) => s3.presignPut(key, type, ttl) } : {}),
  };
  const app = createControlPlaneApi(deps, {
    logError: (error, c) => console.error(JSON.stringify({ event: "request_error", method: c.req.method, path: c.req.path, error: String(error) })),
  });
  const where = config.nodeApiUrl ? ` Call the Node API at ${config.nodeApiUrl} for it.` : "";
  for (const path of NODE_ONLY_PATHS) {
    app.all(path, () => {
      throw new ApiError("not_available_on_edge", `This route runs models and is served by the Node API only, not by the Workers control plane.${where}`);
    });
  }
  return app;
}
