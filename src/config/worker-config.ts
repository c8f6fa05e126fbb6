/**
 * What a slice worker needs besides the dispatcher, parsed once from the environment:
 *
 *   DVAR_STORE, DVAR_STORE_DIR, DVAR_S3_*   where state lives (store-config.ts)
 *   DVAR_SLICE_MAX_MS         wall-clock budget of one slice (default 600000 = 10 minutes)
 *   DVAR_SLICE_MAX_STEPS      optional cap on updates per slice
 *   DVAR_SLICE_LEASE_TTL_MS   a running slice renews its lease to now + this (default 60000);
 *                             0: no heartbeat, the lease lasts wall budget + grace
 *   DVAR_SLICE_LEASE_GRACE_MS start-up allowance of a slice's lease, before its first renewal
 *                             (default 300000); without the heartbeat, added to the wall budget:
 *                             keep it then >= the sandbox timeout margin (docs/DEPLOY.md, recovery)
 *   DVAR_DEVICE               what usage records name as the device (default "cpu")
 *   DVAR_ORT_PROVIDERS        onnxruntime execution providers, in order, comma-separated from
 *                             "cuda" and "cpu" (default: the CPU only); the Modal dispatcher
 *                             sets "cuda,cpu" for its GPU sandboxes
 *
 * S3 credentials are not configuration: the AWS SDK reads AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (on Modal, from a Modal secret).
 */
import { z } from "zod";
import { DEFAULT_LEASE_GRACE_MS, DEFAULT_LEASE_TTL_MS, DEFAULT_SLICE_MAX_MS } from "../ports/dispatcher/config.js";
import { FsStore, S3Store, type Store } from "../ports/store/index.js";
import type { SliceBudget } from "../core/inversion/run-slice.js";
import { EXECUTION_PROVIDERS, type ExecutionProvider } from "../runtime/session.js";
import { blankAsMissing, STORE_ENV_SHAPE, storeConfigFrom, type StoreConfig } from "./store-config.js";

export type { StoreConfig } from "./store-config.js";

export interface WorkerConfig {
  readonly store: StoreConfig;
  readonly budget: SliceBudget;
  /** A slice's lease covers start-up plus one TTL (heartbeat), or its wall budget plus this (no heartbeat). */
  readonly leaseGraceMs: number;
  /** The lease heartbeat's TTL; 0: no heartbeat. */
  readonly leaseTtlMs: number;
  readonly device: string;
  /** Absent: onnxruntime's default (the CPU). */
  readonly executionProviders?: readonly ExecutionProvider[];
}

export class InvalidWorkerConfigError extends Error {
  override readonly name = "InvalidWorkerConfigError";
}

const envSchema = z.object({
  ...STORE_ENV_SHAPE,
  DVAR_SLICE_MAX_MS: blankAsMissing(z.coerce.number().int().min(1000)),
  DVAR_SLICE_MAX_STEPS: blankAsMissing(z.coerce.number().int().min(1)),
  DVAR_SLICE_LEASE_GRACE_MS: blankAsMissing(z.coerce.number().int().min(0)),
  DVAR_SLICE_LEASE_TTL_MS: blankAsMissing(z.coerce.number().int().min(0)),
  DVAR_DEVICE: blankAsMissing(z.string().regex(/^[a-z0-9._-]{1,40}$/, "lower-case letters, digits, '.', '_' or '-'")),
  DVAR_ORT_PROVIDERS: blankAsMissing(
    z
      .string()
      .transform((s) => s.split(",").map((p) => p.trim()))
      .pipe(
        z
          .array(z.enum(EXECUTION_PROVIDERS, { error: `each provider must be one of ${EXECUTION_PROVIDERS.join(", ")}` }))
          .refine((list) => new Set(list).size === list.length, "a provider is named twice"),
      ),
  ),
});

export function parseWorkerConfig(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new InvalidWorkerConfigError(`worker configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data as Record<string, string | number | undefined>;
  const store = storeConfigFrom(e);
  if ("problem" in store) throw new InvalidWorkerConfigError(`worker configuration: ${store.problem}`);
  return {
    store,
    budget: {
      maxWallMs: (e.DVAR_SLICE_MAX_MS as number | undefined) ?? DEFAULT_SLICE_MAX_MS,
      ...(e.DVAR_SLICE_MAX_STEPS === undefined ? {} : { maxSteps: e.DVAR_SLICE_MAX_STEPS as number }),
    },
    leaseGraceMs: (e.DVAR_SLICE_LEASE_GRACE_MS as number | undefined) ?? DEFAULT_LEASE_GRACE_MS,
    leaseTtlMs: (e.DVAR_SLICE_LEASE_TTL_MS as number | undefined) ?? DEFAULT_LEASE_TTL_MS,
    device: (e.DVAR_DEVICE as string | undefined) ?? "cpu",
    ...(e.DVAR_ORT_PROVIDERS === undefined ? {} : { executionProviders: e.DVAR_ORT_PROVIDERS as unknown as ExecutionProvider[] }),
  };
}

export function createStore(config: StoreConfig): Store {
  if (config.kind === "fs") return new FsStore({ root: config.root });
  const { kind: _kind, ...options } = config;
  return new S3Store(options);
}
