/**
 * The Workers control plane's configuration: its `env` bindings (wrangler vars and secrets,
 * iac/workers/wrangler.toml), parsed with zod once per isolate. State must be on S3 (R2's S3
 * API); slices go to the Node side over HTTP.
 *
 *   DVAR_S3_BUCKET, DVAR_S3_ENDPOINT, DVAR_S3_REGION, DVAR_S3_KEY_PREFIX, DVAR_S3_FORCE_PATH_STYLE, DVAR_S3_COPY
 *                               as for every process (src/config/store-config.ts); DVAR_STORE is s3
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   secrets: an R2 API token's S3 credentials
 *   DVAR_DISPATCH_URL           the Node receiver, https://<node host>/internal/dispatch
 *   DVAR_DISPATCH_SECRET        secret: shared whsec_ secret(s), comma-separated while rotating
 *   DVAR_DISPATCH_TIMEOUT_MS    per attempt (default 30000)
 *   DVAR_MODELS                 model ids the Node side serves, comma-separated (default tiny-sd)
 *   DVAR_ALLOW_PRIVATE_WEBHOOKS true only for local development (default false)
 *   DVAR_NODE_API_URL           optional: named in the answer to routes only Node serves
 */
import { z } from "zod";
import { blankAsMissing, STORE_ENV_SHAPE, storeConfigFrom, type StoreConfig } from "../config/store-config.js";
import { DispatchAuthError, parseDispatchSecrets } from "../ports/dispatcher/http/protocol.js";
import { BUNDLED_MODEL_ID } from "../services/models/model-ids.js";

/** The Worker's `env`: every binding is a string var or secret. */
export type EdgeEnv = Readonly<Record<string, unknown>>;

export interface EdgeConfig {
  readonly store: Extract<StoreConfig, { kind: "s3" }>;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly dispatch: { readonly url: string; readonly secrets: readonly string[]; readonly timeoutMs: number };
  readonly models: readonly string[];
  readonly allowPrivateWebhooks: boolean;
  readonly nodeApiUrl?: string;
}

export class InvalidEdgeConfigError extends Error {
  override readonly name = "InvalidEdgeConfigError";
}

const required = (schema: z.ZodType) => z.preprocess((v) => (v === "" ? undefined : v), schema);

const envSchema = z.object({
  ...STORE_ENV_SHAPE,
  DVAR_STORE: blankAsMissing(z.literal("s3", { message: "the Workers control plane keeps state on S3 (R2): DVAR_STORE must be s3 or unset" })),
  AWS_ACCESS_KEY_ID: required(z.string({ message: "missing: set it with `wrangler secret put AWS_ACCESS_KEY_ID`" }).min(1)),
  AWS_SECRET_ACCESS_KEY: required(z.string({ message: "missing: set it with `wrangler secret put AWS_SECRET_ACCESS_KEY`" }).min(1)),
  DVAR_DISPATCH_URL: required(z.url({ protocol: /^https?$/, message: "the Node receiver's URL, https://<host>/internal/dispatch" })),
  DVAR_DISPATCH_SECRET: required(z.string({ message: "missing: set it with `wrangler secret put DVAR_DISPATCH_SECRET`" })),
  DVAR_DISPATCH_TIMEOUT_MS: blankAsMissing(z.coerce.number().int().min(1000).max(600_000)),
  DVAR_MODELS: blankAsMissing(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}(,[A-Za-z0-9][A-Za-z0-9._\/-]{0,127})*$/, "comma-separated model ids")),
  DVAR_ALLOW_PRIVATE_WEBHOOKS: blankAsMissing(z.enum(["true", "false"])),
  DVAR_NODE_API_URL: blankAsMissing(z.url({ protocol: /^https?$/ })),
});

export function parseEdgeConfig(env: EdgeEnv): EdgeConfig {
  // Bindings that are not strings (R2, KV, service bindings) are not configuration here.
  const strings = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string"));
  const parsed = envSchema.safeParse({ DVAR_S3_REGION: "auto", ...strings, DVAR_STORE: strings.DVAR_STORE ?? "s3" });
  if (!parsed.success) throw new InvalidEdgeConfigError(`Workers configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data as Record<string, string | number | undefined>;
  const store = storeConfigFrom(e);
  if ("problem" in store || store.kind !== "s3") throw new InvalidEdgeConfigError(`Workers configuration: ${"problem" in store ? store.problem : "DVAR_STORE must be s3"}`);
  let secrets: string[];
  try {
    secrets = parseDispatchSecrets(e.DVAR_DISPATCH_SECRET as string);
  } catch (error) {
    if (error instanceof DispatchAuthError) throw new InvalidEdgeConfigError(`Workers configuration: ${error.message}`);
    throw error;
  }
  return {
    store,
    credentials: { accessKeyId: e.AWS_ACCESS_KEY_ID as string, secretAccessKey: e.AWS_SECRET_ACCESS_KEY as string },
    dispatch: { url: e.DVAR_DISPATCH_URL as string, secrets, timeoutMs: (e.DVAR_DISPATCH_TIMEOUT_MS as number | undefined) ?? 30_000 },
    models: ((e.DVAR_MODELS as string | undefined) ?? BUNDLED_MODEL_ID).split(","),
    allowPrivateWebhooks: e.DVAR_ALLOW_PRIVATE_WEBHOOKS === "true",
    ...(e.DVAR_NODE_API_URL === undefined ? {} : { nodeApiUrl: e.DVAR_NODE_API_URL as string }),
  };
}
