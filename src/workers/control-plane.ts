/**
 * The Cloudflare Workers entry (iac/workers/wrangler.toml `main`). workerd treats every named
 * export of this module as an entrypoint, so it exports the fetch handler only; the app is
 * built in edge-app.ts from the env, once per isolate.
 */
import type { ApiApp } from "../handlers/api-env.js";
import { buildProblem, problemResponse } from "../handlers/errors/problem.js";
import { InvalidEdgeConfigError, parseEdgeConfig, type EdgeEnv } from "./config.js";
import { createEdgeApp } from "./edge-app.js";

/** One app per isolate and env (bindings do not change between requests of an isolate). */
const apps = new WeakMap<object, ApiApp>();

export default {
  fetch(request: Request, env: EdgeEnv, ctx?: unknown): Response | Promise<Response> {
    let app = apps.get(env);
    if (!app) {
      try {
        app = createEdgeApp(parseEdgeConfig(env));
      } catch (error) {
        if (!(error instanceof InvalidEdgeConfigError)) throw error;
        // The message names the variables (never a secret's value); clients learn nothing more.
        console.error(JSON.stringify({ event: "config_error", error: error.message }));
        return problemResponse(buildProblem("service_unavailable", "The service is not configured correctly.", new URL(request.url).pathname));
      }
      apps.set(env, app);
    }
    return app.fetch(request, env, ctx as never);
  },
};
