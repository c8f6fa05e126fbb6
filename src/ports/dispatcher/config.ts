/**
 * Which dispatcher runs slices, and its settings, parsed once from the environment:
 *
 *   DVAR_DISPATCHER              inprocess (default) | modal
 *   DVAR_DISPATCH_CONCURRENCY    in-process: slices at once (default 1)
 *   DVAR_SLICE_MAX_MS            slice wall-clock budget (default 600000); sets the sandbox timeout
 *   DVAR_MODAL_APP, DVAR_MODAL_ENVIRONMENT, DVAR_MODAL_GPU, DVAR_MODAL_SECRETS (comma-separated),
 *   DVAR_MODAL_TIMEOUT_MARGIN_MS override iac/modal/deployment.json;
 *   DVAR_MODAL_GIT_URL + DVAR_MODAL_GIT_COMMIT (build the project in the image) or
 *   DVAR_MODAL_IMAGE (a prebuilt image tag) say where the project comes from.
 *
 * A sandbox gets the deployment's `env` plus every DVAR_* variable of the dispatching process,
 * so the slice it runs sees the same store and dispatcher configuration, and DVAR_DEVICE named
 * after its GPU (for usage records). Credentials never
 * travel that way: a DVAR_* name that looks like one is refused; they belong in Modal secrets.
 */
import { z } from "zod";
import { defaultModalDeployment, ENV_NAME, imageDefinition, type ImageDefinition, type ModalDeployment, type ProjectSource } from "./modal/deployment.js";

export const DEFAULT_SLICE_MAX_MS = 10 * 60 * 1000;
/**
 * Added to a slice's wall budget for its lease in the job record: model loading and checkpoint
 * writes happen outside the budget, and it equals the deployment's default sandbox timeout
 * margin, so a lease expires only once the platform has stopped the sandbox.
 */
export const DEFAULT_LEASE_GRACE_MS = 5 * 60 * 1000;
/** Default lease TTL once a slice runs (DVAR_SLICE_LEASE_TTL_MS): renewed to now + this; 0 turns the heartbeat off. */
export const DEFAULT_LEASE_TTL_MS = 60 * 1000;
/** Modal's upper bound on a sandbox's lifetime. */
export const MODAL_MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export interface InProcessDispatcherConfig {
  readonly kind: "inprocess";
  readonly concurrency: number;
}

export interface ModalDispatcherConfig {
  readonly kind: "modal";
  readonly app: string;
  /** Modal environment; the token's default when absent. */
  readonly environment?: string;
  readonly gpu: string;
  readonly image: ImageDefinition;
  readonly workdir: string;
  readonly entrypoint: readonly string[];
  readonly secrets: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Sandbox lifetime: slice budget + margin, in whole seconds (Modal's default is 5 minutes). */
  readonly timeoutMs: number;
}

export type DispatcherConfig = InProcessDispatcherConfig | ModalDispatcherConfig;

export class InvalidDispatcherConfigError extends Error {
  override readonly name = "InvalidDispatcherConfigError";
}

const optional = (schema: z.ZodType) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());
const intFromString = (min: number) => z.coerce.number().int().min(min);
const SECRET_LIKE = /(SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY)/i;
/** Settings whose names match SECRET_LIKE but hold no credential. */
const NOT_CREDENTIALS = new Set(["DVAR_MODAL_SECRETS"]);
/** Credentials of the dispatching process itself, which sandboxes never need: not forwarded. */
const NOT_FORWARDED = new Set(["DVAR_DISPATCH_SECRET"]);

const envSchema = z.object({
  DVAR_DISPATCHER: optional(z.enum(["inprocess", "modal"])),
  DVAR_DISPATCH_CONCURRENCY: optional(intFromString(1).max(256)),
  DVAR_SLICE_MAX_MS: optional(intFromString(1000)),
  DVAR_STORE: optional(z.string()),
  DVAR_MODAL_APP: optional(z.string().regex(/^[A-Za-z0-9._-]{1,63}$/)),
  DVAR_MODAL_ENVIRONMENT: optional(z.string().regex(/^[A-Za-z0-9._-]{1,63}$/)),
  DVAR_MODAL_GPU: optional(z.string().regex(/^[A-Za-z0-9-]+(:[1-8])?$/, "a Modal GPU type such as L40S, H100 or A100-80GB[:count]")),
  DVAR_MODAL_SECRETS: optional(z.string()),
  DVAR_MODAL_TIMEOUT_MARGIN_MS: optional(intFromString(0)),
  DVAR_MODAL_GIT_URL: optional(z.string().regex(/^(https:\/\/|ssh:\/\/|git@)[A-Za-z0-9._~:/@%+-]+$/, "an https://, ssh:// or git@ URL without spaces or quotes")),
  DVAR_MODAL_GIT_COMMIT: optional(z.string().regex(/^[0-9a-f]{40}$/, "a full 40-hex commit id (a branch would make the image drift)")),
  DVAR_MODAL_IMAGE: optional(z.string().regex(/^[A-Za-z0-9._/:@-]+$/, "an image reference such as ghcr.io/org/dvar:1.2.3")),
});

export function parseDispatcherConfig(env: Readonly<Record<string, string | undefined>>, deployment?: ModalDeployment): DispatcherConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new InvalidDispatcherConfigError(`dispatcher configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data as {
    DVAR_DISPATCHER?: "inprocess" | "modal";
    DVAR_DISPATCH_CONCURRENCY?: number;
    DVAR_SLICE_MAX_MS?: number;
    DVAR_STORE?: string;
    DVAR_MODAL_APP?: string;
    DVAR_MODAL_ENVIRONMENT?: string;
    DVAR_MODAL_GPU?: string;
    DVAR_MODAL_SECRETS?: string;
    DVAR_MODAL_TIMEOUT_MARGIN_MS?: number;
    DVAR_MODAL_GIT_URL?: string;
    DVAR_MODAL_GIT_COMMIT?: string;
    DVAR_MODAL_IMAGE?: string;
  };
  if ((e.DVAR_DISPATCHER ?? "inprocess") === "inprocess") {
    return { kind: "inprocess", concurrency: e.DVAR_DISPATCH_CONCURRENCY ?? 1 };
  }

  const fail = (message: string): never => {
    throw new InvalidDispatcherConfigError(`DVAR_DISPATCHER=modal: ${message}`);
  };
  if (e.DVAR_STORE !== "s3") fail(`sandboxes need a shared store: set DVAR_STORE=s3 (got ${e.DVAR_STORE ?? "the filesystem default"})`);
  const d = deployment ?? defaultModalDeployment();

  let source: ProjectSource;
  if (e.DVAR_MODAL_IMAGE !== undefined) {
    if (e.DVAR_MODAL_GIT_URL !== undefined || e.DVAR_MODAL_GIT_COMMIT !== undefined) fail("set DVAR_MODAL_IMAGE or DVAR_MODAL_GIT_URL/COMMIT, not both");
    source = { kind: "image", tag: e.DVAR_MODAL_IMAGE };
  } else {
    if (e.DVAR_MODAL_GIT_URL === undefined || e.DVAR_MODAL_GIT_COMMIT === undefined) {
      fail("say where the project comes from: DVAR_MODAL_GIT_URL and DVAR_MODAL_GIT_COMMIT, or DVAR_MODAL_IMAGE");
    }
    source = { kind: "git", url: e.DVAR_MODAL_GIT_URL!, commit: e.DVAR_MODAL_GIT_COMMIT! };
  }

  const secrets = e.DVAR_MODAL_SECRETS === undefined ? d.secrets : e.DVAR_MODAL_SECRETS.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const badSecret = secrets.find((s) => !/^[A-Za-z0-9._-]{1,63}$/.test(s));
  if (badSecret !== undefined) fail(`DVAR_MODAL_SECRETS: "${badSecret}" is not a Modal secret name`);

  const sandboxEnv: Record<string, string> = { ...d.env };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("DVAR_") || value === undefined || NOT_FORWARDED.has(name)) continue;
    if (SECRET_LIKE.test(name) && !NOT_CREDENTIALS.has(name)) fail(`${name} looks like a credential; put it in a Modal secret (DVAR_MODAL_SECRETS), not in DVAR_* variables`);
    if (!ENV_NAME.test(name)) fail(`${name} is not a valid environment variable name`);
    sandboxEnv[name] = value;
  }

  const gpu = e.DVAR_MODAL_GPU ?? d.gpu;
  // Usage records name the device the slice held, whatever the dispatching process runs on.
  sandboxEnv.DVAR_DEVICE = gpuDeviceName(gpu);
  // ...and run their models on it: onnxruntime's default is the CPU, even on a GPU image.
  sandboxEnv.DVAR_ORT_PROVIDERS = "cuda,cpu";

  const sliceMaxMs = e.DVAR_SLICE_MAX_MS ?? DEFAULT_SLICE_MAX_MS;
  const marginMs = e.DVAR_MODAL_TIMEOUT_MARGIN_MS ?? d.timeoutMarginMs;
  // Modal takes whole seconds.
  const timeoutMs = Math.ceil((sliceMaxMs + marginMs) / 1000) * 1000;
  if (timeoutMs > MODAL_MAX_TIMEOUT_MS) fail(`slice budget + margin is ${timeoutMs} ms, over Modal's 24 h sandbox limit`);

  return {
    kind: "modal",
    app: e.DVAR_MODAL_APP ?? d.app,
    ...(e.DVAR_MODAL_ENVIRONMENT === undefined ? {} : { environment: e.DVAR_MODAL_ENVIRONMENT }),
    gpu,
    image: imageDefinition(d, source),
    workdir: d.workdir,
    entrypoint: d.entrypoint,
    secrets,
    env: sandboxEnv,
    cpu: d.cpu,
    memoryMiB: d.memoryMiB,
    timeoutMs,
  };
}

/** "L40S" -> "nvidia-l40s", "H100:2" -> "nvidia-h100-x2": the device name usage records carry. */
export function gpuDeviceName(gpu: string): string {
  const [type, count] = gpu.split(":");
  return `nvidia-${type!.toLowerCase()}${count !== undefined && count !== "1" ? `-x${count}` : ""}`;
}
