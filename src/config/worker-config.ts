/**
 * What a slice worker needs besides the dispatcher, parsed once from the environment:
 *
 *   DVAR_STORE                fs (default) | s3
 *   DVAR_STORE_DIR            fs: the store's directory (default .dvar/store)
 *   DVAR_S3_BUCKET            s3: required
 *   DVAR_S3_ENDPOINT, DVAR_S3_REGION, DVAR_S3_KEY_PREFIX, DVAR_S3_FORCE_PATH_STYLE (true|false)
 *   DVAR_SLICE_MAX_MS         wall-clock budget of one slice (default 600000 = 10 minutes)
 *   DVAR_SLICE_MAX_STEPS      optional cap on updates per slice
 *   DVAR_SLICE_LEASE_GRACE_MS added to the wall budget for a slice's lease (default 300000);
 *                             keep it >= the sandbox timeout margin (docs/DEPLOY.md, recovery)
 *   DVAR_DEVICE               what usage records name as the device (default "cpu")
 *
 * S3 credentials are not configuration: the AWS SDK reads AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (on Modal, from a Modal secret).
 */
import { z } from "zod";
import { DEFAULT_LEASE_GRACE_MS, DEFAULT_SLICE_MAX_MS } from "../ports/dispatcher/config.js";
import { FsStore, S3Store, type Store } from "../ports/store/index.js";
import type { SliceBudget } from "../core/inversion/run-slice.js";

export type StoreConfig =
  | { readonly kind: "fs"; readonly root: string }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly keyPrefix?: string;
      readonly forcePathStyle: boolean;
    };

export interface WorkerConfig {
  readonly store: StoreConfig;
  readonly budget: SliceBudget;
  /** A slice's lease lasts its wall budget plus this. */
  readonly leaseGraceMs: number;
  readonly device: string;
}

export class InvalidWorkerConfigError extends Error {
  override readonly name = "InvalidWorkerConfigError";
}

const blankAsMissing = (schema: z.ZodType) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

const envSchema = z.object({
  DVAR_STORE: blankAsMissing(z.enum(["fs", "s3"])),
  DVAR_STORE_DIR: blankAsMissing(z.string()),
  DVAR_S3_BUCKET: blankAsMissing(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name")),
  DVAR_S3_ENDPOINT: blankAsMissing(z.url({ protocol: /^https?$/ })),
  DVAR_S3_REGION: blankAsMissing(z.string().regex(/^[a-z0-9-]+$/)),
  DVAR_S3_KEY_PREFIX: blankAsMissing(z.string().regex(/^((?!\.{1,2}\/)[A-Za-z0-9._=-]+\/)+$/, "segments of [A-Za-z0-9._=-] (not '.' or '..') each ending with '/'")),
  DVAR_S3_FORCE_PATH_STYLE: blankAsMissing(z.enum(["true", "false"])),
  DVAR_SLICE_MAX_MS: blankAsMissing(z.coerce.number().int().min(1000)),
  DVAR_SLICE_MAX_STEPS: blankAsMissing(z.coerce.number().int().min(1)),
  DVAR_SLICE_LEASE_GRACE_MS: blankAsMissing(z.coerce.number().int().min(0)),
  DVAR_DEVICE: blankAsMissing(z.string().regex(/^[a-z0-9._-]{1,40}$/, "lower-case letters, digits, '.', '_' or '-'")),
});

export function parseWorkerConfig(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new InvalidWorkerConfigError(`worker configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data as Record<string, string | number | undefined>;
  let store: StoreConfig;
  if (e.DVAR_STORE === "s3") {
    if (e.DVAR_S3_BUCKET === undefined) throw new InvalidWorkerConfigError("worker configuration: DVAR_STORE=s3 needs DVAR_S3_BUCKET");
    store = {
      kind: "s3",
      bucket: e.DVAR_S3_BUCKET as string,
      ...(e.DVAR_S3_ENDPOINT === undefined ? {} : { endpoint: e.DVAR_S3_ENDPOINT as string }),
      ...(e.DVAR_S3_REGION === undefined ? {} : { region: e.DVAR_S3_REGION as string }),
      ...(e.DVAR_S3_KEY_PREFIX === undefined ? {} : { keyPrefix: e.DVAR_S3_KEY_PREFIX as string }),
      forcePathStyle: e.DVAR_S3_FORCE_PATH_STYLE === "true",
    };
  } else {
    store = { kind: "fs", root: (e.DVAR_STORE_DIR as string | undefined) ?? ".dvar/store" };
  }
  return {
    store,
    budget: {
      maxWallMs: (e.DVAR_SLICE_MAX_MS as number | undefined) ?? DEFAULT_SLICE_MAX_MS,
      ...(e.DVAR_SLICE_MAX_STEPS === undefined ? {} : { maxSteps: e.DVAR_SLICE_MAX_STEPS as number }),
    },
    leaseGraceMs: (e.DVAR_SLICE_LEASE_GRACE_MS as number | undefined) ?? DEFAULT_LEASE_GRACE_MS,
    device: (e.DVAR_DEVICE as string | undefined) ?? "cpu",
  };
}

export function createStore(config: StoreConfig): Store {
  if (config.kind === "fs") return new FsStore({ root: config.root });
  const { kind: _kind, ...options } = config;
  return new S3Store(options);
}
