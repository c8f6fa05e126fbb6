/**
 * The slice function: what a GPU sandbox (or a local worker) runs for one slice of one job.
 *
 *   node dist/functions/run-slice.js --job <id> --slice <n>     (or DVAR_JOB_ID / DVAR_SLICE)
 *
 * It parses the invocation and the configuration, builds the store and the dispatcher, and hands
 * the invocation to the slice service, which asks the dispatcher for the next slice. With the
 * in-process dispatcher that next slice runs here too, so one process carries the job to its end;
 * on Modal each slice is a sandbox of its own. SIGTERM/SIGINT interrupt the slice after its
 * current update: it checkpoints and exits, and the job resumes when the slice is dispatched again.
 * After the slice, the job's due webhook deliveries (enqueued in the store's outbox by this or an
 * earlier invocation) get one attempt each; retries continue on the job's next invocation or in
 * any process that sweeps the outbox (WebhookDeliveryWorker.deliverDue, e.g. \`dvar serve\`).
 * DVAR_ALLOW_PRIVATE_WEBHOOKS=true lifts the address guard (local development only).
 * Exit codes: 0 done (including "nothing to do"), 1 the slice failed, 2 bad invocation or config.
 */
import { fileURLToPath } from "node:url";
import { realpathSync } from "node:fs";
import { z } from "zod";
import { createStore, parseWorkerConfig, type WorkerConfig } from "../src/config/worker-config.js";
import { createDispatcher, parseDispatcherConfig, parseSliceInvocation, type Dispatcher, type SliceInvocation } from "../src/ports/dispatcher/index.js";
import { InProcessDispatcher } from "../src/ports/dispatcher/inprocess.js";
import type { Store } from "../src/ports/store/index.js";
import { defaultObjectives, StoreSliceService, type JobEventSink, type SliceService } from "../src/services/slices/index.js";
import {
  createGuardedFetch,
  OutboxJobEventSink,
  WebhookDeliveryWorker,
  WebhookSecretStore,
  type WebhookFetch,
  type WebhookNetworkPolicy,
} from "../src/services/webhooks/index.js";

type Env = Readonly<Record<string, string | undefined>>;

export class SliceFunctionUsageError extends Error {
  override readonly name = "SliceFunctionUsageError";
}

const argsSchema = z.strictObject({ job: z.string().optional(), slice: z.string().optional() });

/** `--job <id> --slice <n>` (or `--job=<id>`), falling back to DVAR_JOB_ID and DVAR_SLICE. */
export function parseInvocationArgs(argv: readonly string[], env: Env): SliceInvocation {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new SliceFunctionUsageError(`unexpected argument "${arg}"`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new SliceFunctionUsageError(`--${match[1]} needs a value`);
    flags[match[1]!] = value;
  }
  const parsed = argsSchema.safeParse(flags);
  if (!parsed.success) throw new SliceFunctionUsageError(`unknown option: ${z.prettifyError(parsed.error)}`);
  const job = parsed.data.job ?? env.DVAR_JOB_ID;
  const slice = parsed.data.slice ?? env.DVAR_SLICE;
  if (job === undefined || slice === undefined) throw new SliceFunctionUsageError("needs --job <id> and --slice <n> (or DVAR_JOB_ID and DVAR_SLICE)");
  if (!/^\d+$/.test(slice)) throw new SliceFunctionUsageError(`--slice must be a non-negative integer, got "${slice}"`);
  try {
    return parseSliceInvocation({ jobId: job, slice: Number(slice) });
  } catch (error) {
    throw new SliceFunctionUsageError((error as Error).message);
  }
}

export interface SlicePorts {
  readonly store: Store;
  readonly dispatcher: Dispatcher;
  readonly worker: WorkerConfig;
}

export interface SliceFunctionOptions {
  /** Builds the slice service from the configured ports (default: StoreSliceService with the built-in objectives). */
  readonly createService?: (ports: SlicePorts) => SliceService;
  /** Default: the webhook outbox in the configured store. */
  readonly events?: JobEventSink;
  /** The webhook transport (default: createGuardedFetch under the configured address policy). */
  readonly webhookFetch?: WebhookFetch;
  /** Where progress lines go (default stderr). */
  readonly log?: (line: string) => void;
  /** Aborting it interrupts the slice (the entrypoint wires SIGTERM/SIGINT to it). */
  readonly signal?: AbortSignal;
}

export async function runSliceFunction(argv: readonly string[], env: Env, options: SliceFunctionOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let invocation: SliceInvocation;
  let ports: SlicePorts;
  let service!: SliceService;
  let chainFailed = false;
  let webhookPolicy: WebhookNetworkPolicy;
  try {
    invocation = parseInvocationArgs(argv, env);
    webhookPolicy = parseWebhookPolicy(env);
    const worker = parseWorkerConfig(env);
    const dispatcherConfig = parseDispatcherConfig(env);
    const store = createStore(worker.store);
    const dispatcher = await createDispatcher(dispatcherConfig, {
      // Slices dispatched in this process run through the same service.
      runSlice: (next, context) => service.run(next, { signal: anySignal(options.signal, context.signal) }),
      onError: (next, error) => {
        chainFailed = true;
        log(JSON.stringify({ event: "slice_error", jobId: next.jobId, slice: next.slice, error: describe(error) }));
      },
    });
    ports = { store, dispatcher, worker };
    service =
      options.createService?.(ports) ??
      new StoreSliceService({
        store,
        dispatcher,
        objectives: defaultObjectives(),
        budget: worker.budget,
        device: worker.device,
        events: options.events ?? new OutboxJobEventSink(store),
      });
  } catch (error) {
    log(`run-slice: ${describe(error)}`);
    return 2;
  }

  try {
    log(JSON.stringify({ event: "slice_start", jobId: invocation.jobId, slice: invocation.slice }));
    const result = await service.run(invocation, options.signal ? { signal: options.signal } : {});
    log(JSON.stringify({ event: "slice_done", jobId: invocation.jobId, slice: invocation.slice, result: result.kind }));
    if (ports.dispatcher instanceof InProcessDispatcher) await ports.dispatcher.drain();
    await deliverJobWebhooks(ports.store, invocation.jobId, webhookPolicy, options.webhookFetch, log);
    return chainFailed ? 1 : 0;
  } catch (error) {
    log(JSON.stringify({ event: "slice_error", jobId: invocation.jobId, slice: invocation.slice, error: describe(error) }));
    return 1;
  } finally {
    await ports.dispatcher.close();
  }
}

/** DVAR_ALLOW_PRIVATE_WEBHOOKS: "true" | "false" (default false). */
export function parseWebhookPolicy(env: Env): WebhookNetworkPolicy {
  const value = env.DVAR_ALLOW_PRIVATE_WEBHOOKS;
  if (value !== undefined && value !== "" && value !== "true" && value !== "false") {
    throw new SliceFunctionUsageError(`DVAR_ALLOW_PRIVATE_WEBHOOKS must be "true" or "false", got "${value}"`);
  }
  return { allowPrivateAddresses: value === "true" };
}

/** One attempt at each of the job's due deliveries; a failure here never fails the slice. */
async function deliverJobWebhooks(store: Store, jobId: string, policy: WebhookNetworkPolicy, fetch: WebhookFetch | undefined, log: (line: string) => void): Promise<void> {
  try {
    const worker = new WebhookDeliveryWorker({ store, secrets: new WebhookSecretStore({ store }), fetch: fetch ?? createGuardedFetch(policy), policy, attemptTimeoutMs: 10_000 });
    await worker.deliverDue({ jobId });
  } catch (error) {
    log(JSON.stringify({ event: "webhook_error", jobId, error: describe(error) }));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const interrupt = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => interrupt.abort());
  const code = await runSliceFunction(process.argv.slice(2), process.env, { signal: interrupt.signal });
  // Everything is awaited by now; exit even if a client keeps a socket open, because a sandbox
  // that lingers is billed GPU time until its timeout.
  process.exit(code);
}
