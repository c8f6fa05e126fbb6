/**
 * What both entrypoints (run-slice, sweep) build from the environment: the store, the
 * dispatcher, the slice service that in-process dispatches run through, and the webhook
 * delivery settings. Kept here so the two cannot drift apart.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { createStore, parseWorkerConfig, type WorkerConfig } from "../src/config/worker-config.js";
import type { Clock } from "../src/ports/clock.js";
import { createDispatcher, parseDispatcherConfig, type Dispatcher, type SliceInvocation } from "../src/ports/dispatcher/index.js";
import type { Store } from "../src/ports/store/index.js";
import { defaultModelCatalog } from "../src/services/models/model-catalog.js";
import { defaultObjectives, StoreSliceService, type JobEventSink, type SliceRunResult, type SliceService } from "../src/services/slices/index.js";
import { createGuardedFetch, OutboxJobEventSink, WebhookDeliveryWorker, WebhookSecretStore, type WebhookFetch, type WebhookNetworkPolicy } from "../src/services/webhooks/index.js";

type Env = Readonly<Record<string, string | undefined>>;

/** A bad invocation or configuration: the entrypoint exits 2. */
export class FunctionUsageError extends Error {
  override readonly name = "FunctionUsageError";
}

export interface SlicePorts {
  readonly store: Store;
  readonly dispatcher: Dispatcher;
  readonly worker: WorkerConfig;
}

export interface WorkerPortsOptions {
  /** Builds the slice service from the configured ports (default: StoreSliceService with the built-in objectives). */
  readonly createService?: (ports: SlicePorts) => SliceService;
  /** Default: the webhook outbox in the configured store. */
  readonly events?: JobEventSink;
  /** Aborting it interrupts in-process slices (the entrypoints wire SIGTERM/SIGINT to it). */
  readonly signal?: AbortSignal;
  /** Told about every in-process slice that throws. */
  readonly onSliceError: (invocation: SliceInvocation, error: unknown) => void;
  /** Told how every in-process slice ended ("advanced", "lost", ...). */
  readonly onSliceDone?: (invocation: SliceInvocation, result: SliceRunResult["kind"]) => void;
}

export interface WorkerPorts extends SlicePorts {
  readonly service: SliceService;
  readonly events: JobEventSink;
  readonly webhookPolicy: WebhookNetworkPolicy;
}

/** Parses the configuration and builds the ports; configuration errors throw (exit 2). */
export async function buildWorkerPorts(env: Env, options: WorkerPortsOptions): Promise<WorkerPorts> {
  const webhookPolicy = parseWebhookPolicy(env);
  const worker = parseWorkerConfig(env);
  const dispatcherConfig = parseDispatcherConfig(env);
  const store = createStore(worker.store);
  const events = options.events ?? new OutboxJobEventSink(store);
  let service!: SliceService;
  const dispatcher = await createDispatcher(dispatcherConfig, {
    // Slices dispatched in this process run through the same service.
    runSlice: async (next, context) => {
      const result = await service.run(next, { signal: anySignal(options.signal, context.signal) });
      options.onSliceDone?.(next, result.kind);
      return result;
    },
    onError: options.onSliceError,
  });
  const ports = { store, dispatcher, worker };
  service =
    options.createService?.(ports) ??
    new StoreSliceService({
      store,
      dispatcher,
      objectives: defaultObjectives({ store, models: defaultModelCatalog(), executionProviders: worker.executionProviders }),
      budget: worker.budget,
      device: worker.device,
      leaseGraceMs: worker.leaseGraceMs,
      leaseTtlMs: worker.leaseTtlMs,
      events,
    });
  return { ...ports, service, events, webhookPolicy };
}

/** DVAR_ALLOW_PRIVATE_WEBHOOKS: "true" | "false" (default false). */
export function parseWebhookPolicy(env: Env): WebhookNetworkPolicy {
  const parsed = z.enum(["true", "false", ""]).optional().safeParse(env.DVAR_ALLOW_PRIVATE_WEBHOOKS);
  if (!parsed.success) throw new FunctionUsageError(`DVAR_ALLOW_PRIVATE_WEBHOOKS must be "true" or "false", got "${env.DVAR_ALLOW_PRIVATE_WEBHOOKS}"`);
  return { allowPrivateAddresses: parsed.data === "true" };
}

export interface WebhookPassOptions {
  readonly store: Store;
  readonly policy: WebhookNetworkPolicy;
  /** Default: createGuardedFetch under `policy`. */
  readonly fetch?: WebhookFetch;
  readonly clock?: Clock;
  /** Only this job's deliveries. */
  readonly jobId?: string;
}

/** One attempt at each due delivery in the outbox (10 s per attempt); returns how many were made. */
export async function deliverDueWebhooks(options: WebhookPassOptions): Promise<number> {
  const worker = new WebhookDeliveryWorker({
    store: options.store,
    secrets: new WebhookSecretStore({ store: options.store, ...(options.clock ? { clock: options.clock } : {}) }),
    fetch: options.fetch ?? createGuardedFetch(options.policy),
    policy: options.policy,
    attemptTimeoutMs: 10_000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const { attempted } = await worker.deliverDue(options.jobId === undefined ? {} : { jobId: options.jobId });
  return attempted;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

/** Whether the module at `moduleUrl` is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
