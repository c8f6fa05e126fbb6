/** `dvar keys create --tenant T`: issues an API key into the store (printed once, stored only as a hash). */
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";
import { createStore, parseWorkerConfig } from "../config/worker-config.js";
import { ApiKeyRegistry, InvalidTenantIdError } from "../services/auth/index.js";

export const KEYS_HELP = `Usage: dvar keys create --tenant TENANT [--name NAME] [--budget-seconds S] [--store DIR] [--json]

Issues an API key for TENANT and prints it once; the store keeps only its SHA-256.
--budget-seconds caps the device seconds the key may use (then new jobs answer 402 and running jobs fail before their next slice).
--store is the filesystem store the server uses (default $DVAR_STORE_DIR or .dvar/store;
DVAR_STORE=s3 writes to the configured bucket instead).`;

export interface KeysIo {
  readonly stdout: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export async function runKeys(argv: string[], io: KeysIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === "--help" || action === "-h") {
    io.stdout.write(`${KEYS_HELP}\n`);
    return action === undefined ? 2 : 0;
  }
  if (action !== "create") throw new CliUsageError(`unknown action '${action}' (known: create)`);
  const values = parseFlags(rest, { tenant: { type: "string" }, name: { type: "string" }, "budget-seconds": { type: "string" }, store: { type: "string" }, json: { type: "boolean" } });
  if (values.tenant === undefined) throw new CliUsageError("--tenant is required");
  const budgetText = values["budget-seconds"];
  const budgetSeconds = budgetText === undefined ? undefined : Number(budgetText);
  if (budgetSeconds !== undefined && (!/^\d+(\.\d+)?$/.test(budgetText!) || !Number.isFinite(budgetSeconds))) {
    throw new CliUsageError(`--budget-seconds must be a number >= 0, got '${budgetText}'`);
  }
  const env = values.store === undefined ? io.env : { ...io.env, DVAR_STORE: "fs", DVAR_STORE_DIR: values.store };
  const registry = new ApiKeyRegistry(createStore(parseWorkerConfig(env).store));
  let issued;
  try {
    issued = await registry.issue(values.tenant, values.name ?? "cli", undefined, budgetSeconds === undefined ? {} : { budgetSeconds });
  } catch (error) {
    if (error instanceof InvalidTenantIdError) throw new CliUsageError(error.message);
    throw error;
  }
  io.stdout.write(
    values.json
      ? `${JSON.stringify({ key: issued.key, key_id: issued.record.keyId, tenant: issued.record.tenantId })}\n`
      : `${issued.key}\n(key id ${issued.record.keyId}, tenant ${issued.record.tenantId}; shown once, store it now)\n`,
  );
  return 0;
}

export const keysCommand: Subcommand = {
  name: "keys",
  summary: "issue API keys (dvar keys create --tenant T)",
  run: (argv) => runKeys(argv, { stdout: process.stdout, env: process.env }),
};
