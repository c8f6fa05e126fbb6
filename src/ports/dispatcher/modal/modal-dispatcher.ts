/**
 * Dispatch on Modal: one GPU sandbox per slice, running the slice function from the image that
 * iac/modal/deployment.json describes. The sandbox has a deterministic name per (job, slice), so
 * a second dispatch of a slice whose sandbox is still running is refused by Modal ("already
 * exists") and reported as a duplicate. The timeout is always set: Modal's default is 5 minutes.
 */
import { createHash } from "node:crypto";
import { AlreadyExistsError, ModalClient, type App, type Image, type Secret } from "modal";
import type { ModalDispatcherConfig } from "../config.js";
import {
  DispatchError,
  DispatcherClosedError,
  parseSliceInvocation,
  type DispatchReceipt,
  type Dispatcher,
  type SliceInvocation,
} from "../dispatcher.js";

/** Modal object names: alphanumerics, `-`, `_`, `.`, shorter than 64 characters. */
const MAX_NAME = 63;

/** `dvar-<job>-<slice>`, or with the job id hashed when that would be too long for Modal. */
export function sandboxName(invocation: SliceInvocation): string {
  const plain = `dvar-${invocation.jobId}-${invocation.slice}`;
  if (plain.length <= MAX_NAME) return plain;
  const digest = createHash("sha256").update(invocation.jobId).digest("hex").slice(0, 32);
  return `dvar-${digest}-${invocation.slice}`;
}

/** The slice function's command line for one invocation. */
export function sliceCommand(config: ModalDispatcherConfig, invocation: SliceInvocation): string[] {
  return [...config.entrypoint, "--job", invocation.jobId, "--slice", String(invocation.slice)];
}

export interface ModalDispatcherOptions {
  /** A ready client; otherwise one is built from MODAL_TOKEN_ID/SECRET (or ~/.modal.toml). */
  readonly client?: ModalClient;
}

export class ModalDispatcher implements Dispatcher {
  private readonly client: ModalClient;
  private readonly ownsClient: boolean;
  private app: Promise<App> | undefined;
  private secrets: Promise<Secret[]> | undefined;
  /** Kept so Modal builds (or finds) the image once per process, not once per slice. */
  private readonly image: Image;
  private closed = false;

  constructor(
    private readonly config: ModalDispatcherConfig,
    options: ModalDispatcherOptions = {},
  ) {
    this.client = options.client ?? new ModalClient(config.environment === undefined ? {} : { environment: config.environment });
    this.ownsClient = options.client === undefined;
    this.image = this.client.images.fromRegistry(config.image.registry).dockerfileCommands([...config.image.commands]);
  }

  async dispatch(input: SliceInvocation): Promise<DispatchReceipt> {
    const invocation = parseSliceInvocation(input);
    if (this.closed) throw new DispatcherClosedError(`dispatcher is closed; slice ${invocation.jobId}/${invocation.slice} not started`);
    const name = sandboxName(invocation);
    const receipt = { jobId: invocation.jobId, slice: invocation.slice, dispatcher: "modal" as const };
    try {
      const [app, secrets] = await Promise.all([this.resolveApp(), this.resolveSecrets()]);
      const sandbox = await this.client.sandboxes.create(app, this.image, {
        gpu: this.config.gpu,
        cpu: this.config.cpu,
        memoryMiB: this.config.memoryMiB,
        command: sliceCommand(this.config, invocation),
        workdir: this.config.workdir,
        env: { ...this.config.env },
        secrets,
        timeoutMs: this.config.timeoutMs,
        name,
        tags: { "dvar-job": invocation.jobId, "dvar-slice": String(invocation.slice) },
      });
      return { ...receipt, duplicate: false, ref: sandbox.sandboxId };
    } catch (error) {
      if (error instanceof AlreadyExistsError) return { ...receipt, duplicate: true, ref: name };
      throw new DispatchError(`Modal refused slice ${invocation.jobId}/${invocation.slice} (sandbox ${name}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) this.client.close();
  }

  private resolveApp(): Promise<App> {
    this.app ??= this.client.apps.fromName(this.config.app, {
      createIfMissing: true,
      ...(this.config.environment === undefined ? {} : { environment: this.config.environment }),
    });
    // A failed lookup is retried by the next dispatch instead of being cached.
    this.app.catch(() => (this.app = undefined));
    return this.app;
  }

  private resolveSecrets(): Promise<Secret[]> {
    const environment = this.config.environment === undefined ? {} : { environment: this.config.environment };
    this.secrets ??= Promise.all(this.config.secrets.map((name) => this.client.secrets.fromName(name, environment)));
    this.secrets.catch(() => (this.secrets = undefined));
    return this.secrets;
  }
}
