/**
 * The Modal deployment, as data: `iac/modal/deployment.json` names the app, the GPU, the image
 * (a registry base plus Dockerfile commands), the sandbox's entrypoint, the Modal secrets that
 * carry credentials, and plain environment. The dispatcher reads it once, validated here;
 * environment variables override single fields (see ../config.ts).
 */
import { z } from "zod";
import deploymentJson from "../../../../iac/modal/deployment.json" with { type: "json" };

/** Names Modal accepts for apps and secrets (alphanumerics, `-`, `_`, `.`; under 64). */
const MODAL_NAME = /^[A-Za-z0-9._-]{1,63}$/;
/** Names of environment variables (Modal refuses any other). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const modalDeploymentSchema = z.strictObject({
  app: z.string().regex(MODAL_NAME),
  /** Modal GPU type, optionally `TYPE:COUNT` (e.g. "L40S", "H100", "A100-80GB"). */
  gpu: z.string().regex(/^[A-Za-z0-9-]+(:[1-8])?$/),
  image: z.strictObject({
    /** Base image tag on a public registry. */
    registry: z.string().min(1),
    /** Dockerfile commands on top; `{{gitUrl}}` and `{{gitCommit}}` are filled in. No local COPY. */
    commands: z.array(z.string().min(1)),
  }),
  workdir: z.string().startsWith("/"),
  /** The slice function; `--job <id> --slice <n>` is appended. */
  entrypoint: z.array(z.string().min(1)).min(1),
  /** Modal secrets (by name) holding credentials: S3 keys, the Modal token for the next dispatch. */
  secrets: z.array(z.string().regex(MODAL_NAME)),
  /** Plain (non-secret) environment for every sandbox. */
  env: z.record(z.string().regex(ENV_NAME), z.string()),
  cpu: z.number().positive(),
  memoryMiB: z.number().int().positive(),
  /** Added to the slice budget for the sandbox timeout: start-up, model load, checkpoint write. */
  timeoutMarginMs: z.number().int().min(0),
});

export type ModalDeployment = z.infer<typeof modalDeploymentSchema>;

export class InvalidDeploymentError extends Error {
  override readonly name = "InvalidDeploymentError";
}

export function parseModalDeployment(input: unknown, source = "iac/modal/deployment.json"): ModalDeployment {
  const result = modalDeploymentSchema.safeParse(input);
  if (!result.success) throw new InvalidDeploymentError(`${source}: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** The deployment committed in iac/modal/deployment.json. */
export function defaultModalDeployment(): ModalDeployment {
  return parseModalDeployment(deploymentJson);
}

/** Where the project comes from inside the image. */
export type ProjectSource =
  /** Cloned and built in the image: reproducible because the commit is pinned, cached by Modal. */
  | { readonly kind: "git"; readonly url: string; readonly commit: string }
  /** A prebuilt image that already holds the built project in `workdir`. */
  | { readonly kind: "image"; readonly tag: string };

export interface ImageDefinition {
  readonly registry: string;
  readonly commands: readonly string[];
}

/** The image a sandbox runs: the deployment's commands for a git source, the tag alone for a prebuilt image. */
export function imageDefinition(deployment: ModalDeployment, source: ProjectSource): ImageDefinition {
  if (source.kind === "image") return { registry: source.tag, commands: [] };
  const fill = (command: string) => command.replaceAll("{{gitUrl}}", source.url).replaceAll("{{gitCommit}}", source.commit);
  const commands = deployment.image.commands.map(fill);
  const leftover = commands.find((c) => /\{\{[^}]*\}\}/.test(c));
  if (leftover) throw new InvalidDeploymentError(`image command has an unknown placeholder: ${leftover}`);
  return { registry: deployment.image.registry, commands };
}
