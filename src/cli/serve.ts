/** `dvar serve`: the HTTP API on this machine (embedded defaults: filesystem store, in-process slices). */
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";
import { startEmbeddedServer } from "../server/embedded.js";

export const SERVE_HELP = `Usage: dvar serve [--port N] [--host ADDR] [--store DIR] [--allow-private-webhooks]

Serves the API (docs at /docs, OpenAPI at /openapi.json). Jobs run as slices in this process
unless DVAR_DISPATCHER=modal; state lives in the store (DVAR_STORE=fs|s3, see docs/DEPLOY.md).
Every DVAR_SWEEP_INTERVAL_MS (60000) a recovery sweep dispatches slices that died again.

Options:
  --port N                  port (default $PORT or 8787; 0 picks a free one)
  --host ADDR               address to bind (default 127.0.0.1)
  --store DIR               filesystem store directory (default $DVAR_STORE_DIR or .dvar/store)
  --allow-private-webhooks  accept webhook URLs on loopback/private addresses (local development)
  -h, --help                show this help

Create an API key first: dvar keys create --tenant dev --store DIR`;

export interface ServeOptions {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  readonly store?: string;
  readonly allowPrivateWebhooks: boolean;
}

export function parseServeArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): ServeOptions {
  const values = parseFlags(argv, {
        port: { type: "string" },
        host: { type: "string" },
        store: { type: "string" },
        "allow-private-webhooks": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      });
  const portText = values.port ?? env.PORT ?? "8787";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new CliUsageError(`--port must be an integer in 0..65535, got '${portText}'`);
  if (values.store === "") throw new CliUsageError("--store needs a directory");
  return {
    help: values.help ?? false,
    port,
    host: values.host ?? "127.0.0.1",
    ...(values.store === undefined ? {} : { store: values.store }),
    allowPrivateWebhooks: values["allow-private-webhooks"] ?? false,
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
    process.stdout.write(`dvar API listening on ${server.url} (${where}); docs at ${server.url}/docs\n`);
    await new Promise<void>((stop) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop());
    });
    process.stdout.write("shutting down: running slices checkpoint first\n");
    await server.close();
    return 0;
  },
};
