/**
 * Where state lives, as DVAR_* variables: the part of the configuration that every process
 * touching the Store shares (slice workers, `dvar serve`, the Workers control plane). Pure zod,
 * no store implementation imported, so the Workers bundle can use it.
 *
 *   DVAR_STORE                fs (default) | s3
 *   DVAR_STORE_DIR            fs: the store's directory (default .dvar/store)
 *   DVAR_S3_BUCKET            s3: required
 *   DVAR_S3_ENDPOINT, DVAR_S3_REGION, DVAR_S3_KEY_PREFIX, DVAR_S3_FORCE_PATH_STYLE (true|false)
 *   DVAR_S3_COPY              get-put (default) | copy-object: how a create-only copy is made
 *                             (S3StoreOptions.copyMode; copy-object only where the service
 *                             enforces If-None-Match on CopyObject, e.g. AWS S3, not Ceph RGW 16)
 */
import { z } from "zod";

export type StoreConfig =
  | { readonly kind: "fs"; readonly root: string }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly keyPrefix?: string;
      readonly forcePathStyle: boolean;
      readonly copyMode?: "get-put" | "copy-object";
    };

export const blankAsMissing = (schema: z.ZodType) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/** The store variables, to be merged into a process's own environment schema. */
export const STORE_ENV_SHAPE = {
  DVAR_STORE: blankAsMissing(z.enum(["fs", "s3"])),
  DVAR_STORE_DIR: blankAsMissing(z.string()),
  DVAR_S3_BUCKET: blankAsMissing(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name")),
  DVAR_S3_ENDPOINT: blankAsMissing(z.url({ protocol: /^https?$/ })),
  DVAR_S3_REGION: blankAsMissing(z.string().regex(/^[a-z0-9-]+$/)),
  DVAR_S3_KEY_PREFIX: blankAsMissing(z.string().regex(/^((?!\.{1,2}\/)[A-Za-z0-9._=-]+\/)+$/, "segments of [A-Za-z0-9._=-] (not '.' or '..') each ending with '/'")),
  DVAR_S3_FORCE_PATH_STYLE: blankAsMissing(z.enum(["true", "false"])),
  DVAR_S3_COPY: blankAsMissing(z.enum(["get-put", "copy-object"])),
};

/** The StoreConfig from variables already parsed with STORE_ENV_SHAPE; a message when incomplete. */
export function storeConfigFrom(e: Readonly<Record<string, unknown>>): StoreConfig | { readonly problem: string } {
  if (e.DVAR_STORE !== "s3") return { kind: "fs", root: (e.DVAR_STORE_DIR as string | undefined) ?? ".dvar/store" };
  if (e.DVAR_S3_BUCKET === undefined) return { problem: "DVAR_STORE=s3 needs DVAR_S3_BUCKET" };
  return {
    kind: "s3",
    bucket: e.DVAR_S3_BUCKET as string,
    ...(e.DVAR_S3_ENDPOINT === undefined ? {} : { endpoint: e.DVAR_S3_ENDPOINT as string }),
    ...(e.DVAR_S3_REGION === undefined ? {} : { region: e.DVAR_S3_REGION as string }),
    ...(e.DVAR_S3_KEY_PREFIX === undefined ? {} : { keyPrefix: e.DVAR_S3_KEY_PREFIX as string }),
    forcePathStyle: e.DVAR_S3_FORCE_PATH_STYLE === "true",
    ...(e.DVAR_S3_COPY === undefined ? {} : { copyMode: e.DVAR_S3_COPY as "get-put" | "copy-object" }),
  };
}
