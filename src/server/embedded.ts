/**
 * The API as one process: @hono/node-server in front, the store and dispatcher from the
 * configuration (defaults: a filesystem store and the in-process dispatcher, so slices run in
 * this process through the slice service), the webhook delivery loop, and the recovery sweep
 * loop that dispatches dead slices again (DVAR_SWEEP_*). `dvar serve` and `npm start` use it.
 */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { parseSweepConfig } from "../config/sweep-config.js";
import { parseWorkerConfig, createStore, type WorkerConfig } from "../config/worker-config.js";
import { createApi } from "../handlers/api.js";
import { registerDispatchReceiver } from "../handlers/dispatch-receive.js";
import { parseDispatchSecrets } from "../ports/dispatcher/http/protocol.js";
import { createDispatcher, parseDispatcherConfig, type Dispatcher } from "../ports/dispatcher/index.js";
import { InProcessDispatcher } from "../ports/dispatcher/inprocess.js";
import type { Clock } from "../ports/clock.js";
import type { ScheduleFn } from "../ports/timer.js";
import { S3Store, type Store } from "../ports/store/index.js";
import { ApiKeyRegistry } from "../services/auth/index.js";
import { cachedImageGenerator } from "../services/generations/index.js";
import { defaultModelCatalog } from "../services/models/model-catalog.js";
import { UploadSweeper } from "../services/uploads/upload-sweeper.js";
import { JobSweeper, startSweepLoop, type SweepLoop } from "../services/recovery/index.js";
import { defaultObjectives, StoreSliceService, type ObjectiveFactory } from "../services/slices/index.js";
import {
  createGuardedFetch,
  OutboxJobEventSink,
  startDeliveryLoop,
  WebhookDeliveryWorker,
  WebhookSecretStore,
  type DeliveryWorkerDeps,
  type WebhookNetworkPolicy,
} from "../services/webhooks/index.js";

export interface EmbeddedServerOptions {
  readonly port: number;
  readonly host: string;
  /** DVAR_* configuration (store, dispatcher, slice budget); see worker-config.ts and dispatcher/config.ts. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Allow webhooks to loopback and private addresses (local development). */
  readonly allowPrivateWebhooks?: boolean;
  readonly objectives?: ObjectiveFactory;
  /** Webhook delivery knobs (tests): transport, retry policy, jitter, timers. */
  readonly webhooks?: Partial<Pick<DeliveryWorkerDeps, "fetch" | "clock" | "random" | "retry" | "attemptTimeoutMs" | "leaseMs">> & {
    readonly schedule?: ScheduleFn;
    /** Longest sleep of the delivery loop between passes (default 30 s). */
    readonly idleMs?: number;
  };
  /** Recovery sweep timers (tests); its settings come from `env` (DVAR_SWEEP_*). */
  readonly sweep?: { readonly clock?: Clock; readonly schedule?: ScheduleFn };
  readonly log?: (line: string) => void;
}

export interface EmbeddedServer {
  readonly url: string;
  readonly store: Store;
  readonly worker: WorkerConfig;
  /** Stops accepting requests, interrupts running slices (they checkpoint) and waits for them. */
  close(): Promise<void>;
}

export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = parseWorkerConfig(options.env);
  const sweepConfig = parseSweepConfig(options.env);
  const store = createStore(config.store);
  const webhookPolicy: WebhookNetworkPolicy = { allowPrivateAddresses: options.allowPrivateWebhooks ?? false };
  const hooks = options.webhooks ?? {};
  const worker = new WebhookDeliveryWorker({
    store,
    secrets: new WebhookSecretStore({ store, ...(hooks.clock ? { clock: hooks.clock } : {}) }),
    fetch: hooks.fetch ?? createGuardedFetch(webhookPolicy),
    policy: webhookPolicy,
    ...hooks,
  });
  // Pending deliveries in the store (from before a restart) are found by the loop's first pass.
  const deliveries = startDeliveryLoop({
    worker,
    ...(hooks.clock ? { clock: hooks.clock } : {}),
    ...(hooks.schedule ? { schedule: hooks.schedule } : {}),
    ...(hooks.idleMs === undefined ? {} : { idleMs: hooks.idleMs }),
    onError: (error) => log(JSON.stringify({ event: "webhook_error", error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })),
  });
  const events = new OutboxJobEventSink(store, () => deliveries.kick());
  const models = defaultModelCatalog();
  let slices!: StoreSliceService;
  const dispatcher: Dispatcher = await createDispatcher(parseDispatcherConfig(options.env), {
    runSlice: (invocation, context) => slices.run(invocation, { signal: context.signal }),
    onError: (invocation, error) => log(JSON.stringify({ event: "slice_error", ...invocation, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })),
  });
  // Generations run in this process, one at a time, with each model's sessions kept open.
  const generator = cachedImageGenerator();
  slices = new StoreSliceService({
    store,
    dispatcher,
    objectives: options.objectives ?? defaultObjectives({ store, models, executionProviders: config.executionProviders }),
    budget: config.budget,
    device: config.device,
    leaseGraceMs: config.leaseGraceMs,
    leaseTtlMs: config.leaseTtlMs,
    events,
  });
  // Jobs whose slice died (in a previous run of this server too) are dispatched again.
  const sweepClock = options.sweep?.clock;
  const recovery: SweepLoop | undefined =
    sweepConfig.intervalMs === 0
      ? undefined
      : startSweepLoop({
          sweeper: new JobSweeper({ store, dispatcher, events, policy: sweepConfig.policy, ...(sweepClock ? { clock: sweepClock } : {}) }),
          intervalMs: sweepConfig.intervalMs,
          uploadIntervalMs: sweepConfig.uploadSweepIntervalMs,
          ...(sweepConfig.uploadExpiry ? { uploads: new UploadSweeper({ store, expiry: sweepConfig.uploadExpiry, ...(sweepClock ? { clock: sweepClock } : {}) }) } : {}),
          onUploads: (result) => log(JSON.stringify({ event: "upload_sweep", deleted: result.deleted.length, kept: result.kept.length })),
          ...(sweepClock ? { clock: sweepClock } : {}),
          ...(options.sweep?.schedule ? { schedule: options.sweep.schedule } : {}),
          onPass: (result) =>
            log(JSON.stringify({ event: "sweep", redispatched: result.redispatched, failed: result.failed, errors: result.errors.map((e) => ({ jobId: e.jobId, error: String(e.error) })) })),
          onError: (error) => log(JSON.stringify({ event: "sweep_error", error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })),
        });
  const app = createApi(
    {
      store,
      dispatcher,
      keys: new ApiKeyRegistry(store),
      models,
      generator,
      device: config.device,
      webhookPolicy,
      events,
      uploadExpiry: sweepConfig.uploadExpiry,
      ...(store instanceof S3Store ? { presignUpload: (key: string, type: string, ttl: number) => store.presignPut(key, type, ttl) } : {}),
    },
    { logError: (error, c) => log(JSON.stringify({ event: "request_error", method: c.req.method, path: c.req.path, error: String(error) })) },
  );
  // DVAR_DISPATCH_SECRET: this process also takes slices from the Workers control plane.
  const dispatchSecret = options.env.DVAR_DISPATCH_SECRET;
  if (dispatchSecret) registerDispatchReceiver(app, { secrets: parseDispatchSecrets(dispatchSecret), dispatcher, log });
  const server = await new Promise<ServerType>((ready, fail) => {
    const started = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => ready(started));
    started.once("error", fail);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    store,
    worker: config,
    async close() {
      await new Promise<void>((done) => server.close(() => done()));
      await recovery?.close();
      if (dispatcher instanceof InProcessDispatcher) await dispatcher.close({ interrupt: true });
      else await dispatcher.close();
      await deliveries.close();
      await generator.close();
    },
  };
}
