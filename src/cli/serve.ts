/** `dvar serve`: the HTTP API on this machine (embedded defaults: filesystem store, in-process slices). */
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";
import { startEmbeddedServer } from "../server/embedded.js";
import { DEMO_DEFAULTS } from "./demo.js";
import { DEFAULT_DEV_KEY_FILE, ensureDevKey, followDemoJob, submitDemoJob } from "./serve-dev.js";

export const SERVE_HELP = `Usage: dvar serve [--port N] [--host ADDR] [--store DIR] [--allow-private-webhooks]
                  [--dev-key [--dev-key-file FILE]] [--demo [--demo-concept DIR]]

Serves the API and the dashboard (dashboard at /dashboard, docs at /docs, OpenAPI at /openapi.json).
Jobs run as slices in this process unless DVAR_DISPATCHER=modal; state lives in the store
(DVAR_STORE=fs|s3, see docs/DEPLOY.md). With DVAR_DISPATCH_SECRET set (whsec_..., comma-separated
while rotating) it also takes signed slice dispatches from the Workers control plane at
POST /internal/dispatch. Every DVAR_SWEEP_INTERVAL_MS (60000) a recovery sweep dispatches
slices that died again. \`npm start\` is \`dvar serve --dev-key --demo\`.

Options:
  --port N                  port (default $PORT or 8787; 0 picks a free one)
  --host ADDR               address to bind (default 127.0.0.1)
  --store DIR               filesystem store directory (default $DVAR_STORE_DIR or .dvar/store)
  --allow-private-webhooks  accept webhook URLs on loopback/private addresses (local development)
  --dev-key                 local development: reuse the key saved in --dev-key-file or issue one
                            for tenant 'dev' (saved there, mode 0600) and print it
  --dev-key-file FILE       where --dev-key keeps the key (default .dvar/dev-api-key)
  --demo                    with --dev-key: when tenant 'dev' has no job yet, submit the bundled
                            concept (--demo-concept, default ${DEMO_DEFAULTS.concept}) as a
                            textual_inversion job on the bundled model (DVAR dvar-tiny-sd:
                            N=310, alpha=0.8, calibrated for that model)
  -h, --help                show this help

Without --dev-key, create an API key first: dvar keys create --tenant dev --store DIR`;

export interface ServeOptions {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  readonly store?: string;
  readonly allowPrivateWebhooks: boolean;
  readonly devKeyFile?: string;
  readonly demoConcept?: string;
}

export { DEFAULT_DEV_KEY_FILE };

export function parseServeArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): ServeOptions {
  const values = parseFlags(argv, {
        port: { type: "string" },
        host: { type: "string" },
        store: { type: "string" },
        "allow-private-webhooks": { type: "boolean" },
        "dev-key": { type: "boolean" },
        "dev-key-file": { type: "string" },
        demo: { type: "boolean" },
        "demo-concept": { type: "string" },
        help: { type: "boolean", short: "h" },
      });
  const portText = values.port ?? env.PORT ?? "8787";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new CliUsageError(`--port must be an integer in 0..65535, got '${portText}'`);
  if (values.store === "") throw new CliUsageError("--store needs a directory");
  const devKey = values["dev-key"] ?? false;
  if (values["dev-key-file"] !== undefined && !devKey) throw new CliUsageError("--dev-key-file needs --dev-key");
  if (values["dev-key-file"] === "") throw new CliUsageError("--dev-key-file needs a file name");
  const demo = values.demo ?? false;
  if (demo && !devKey) throw new CliUsageError("--demo needs --dev-key (the demo job is submitted with the development key)");
  if (values["demo-concept"] !== undefined && !demo) throw new CliUsageError("--demo-concept needs --demo");
  return {
    help: values.help ?? false,
    port,
    host: values.host ?? "127.0.0.1",
    ...(values.store === undefined ? {} : { store: values.store }),
    allowPrivateWebhooks: values["allow-private-webhooks"] ?? false,
    ...(devKey ? { devKeyFile: values["dev-key-file"] ?? DEFAULT_DEV_KEY_FILE } : {}),
    ...(demo ? { demoConcept: values["demo-concept"] ?? DEMO_DEFAULTS.concept } : {}),
  };
}

export const serveCommand: Subcommand = {
  name: "serve",
  summary: "serve the HTTP API (embedded: filesystem store, in-process slices)",
  async run(argv) {
    const options = parseServeArgs(argv, process.env);
    if (options.help) {
      process.stdout.write(`${SERVE_HELP}\n`);
      return 0;
    }
    const env = options.store === undefined ? process.env : { ...process.env, DVAR_STORE: "fs", DVAR_STORE_DIR: options.store };
    const server = await startEmbeddedServer({ port: options.port, host: options.host, env, allowPrivateWebhooks: options.allowPrivateWebhooks });
    const where = server.worker.store.kind === "fs" ? `store ${server.worker.store.root}` : `S3 bucket ${server.worker.store.bucket}`;
    process.stdout.write(`dvar API listening on ${server.url} (${where}); dashboard at ${server.url}/dashboard, docs at ${server.url}/docs\n`);
    const stopFollowing = new AbortController();
    if (options.devKeyFile !== undefined) {
      const { key, created } = await ensureDevKey(server.store, options.devKeyFile);
      process.stdout.write(`development API key (tenant dev, ${created ? "new, saved in" : "from"} ${options.devKeyFile}): ${key}\n`);
      process.stdout.write(`dashboard with this key: ${server.url}/dashboard#key=${key}\n`);
      if (options.demoConcept !== undefined) {
        const job = await submitDemoJob({ url: server.url, key, concept: options.demoConcept }).catch((error: unknown) => {
          process.stdout.write(`demo job not submitted: ${error instanceof Error ? error.message : String(error)}\n`);
          return undefined;
        });
        if (job !== undefined) {
          process.stdout.write(`demo job ${job} submitted (${options.demoConcept}); watch it in the dashboard with the key above\n`);
          void followDemoJob({ url: server.url, key, id: job, keyFile: options.devKeyFile, write: (line) => process.stdout.write(`${line}\n`), signal: stopFollowing.signal });
        }
      }
    }
    await new Promise<void>((stop) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop());
    });
    stopFollowing.abort();
    process.stdout.write("shutting down: running slices checkpoint first\n");
    await server.close();
    return 0;
  },
};
