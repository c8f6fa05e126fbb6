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
 * the recovery sweep (functions/sweep.ts, or the loop of \`dvar serve\`).
 * DVAR_ALLOW_PRIVATE_WEBHOOKS=true lifts the address guard (local development only).
 * Exit codes: 0 done (including "nothing to do"), 1 the slice failed, 2 bad invocation or config.
 */
import { z } from "zod";
import { parseSliceInvocation, type SliceInvocation } from "../src/ports/dispatcher/index.js";
import { InProcessDispatcher } from "../src/ports/dispatcher/inprocess.js";
import type { JobEventSink, SliceService } from "../src/services/slices/index.js";
import type { WebhookFetch } from "../src/services/webhooks/index.js";
import { buildWorkerPorts, deliverDueWebhooks, describeError, FunctionUsageError, isMainModule, type SlicePorts, type WorkerPorts } from "./worker-ports.js";

export { FunctionUsageError as SliceFunctionUsageError, parseWebhookPolicy, type SlicePorts } from "./worker-ports.js";

type Env = Readonly<Record<string, string | undefined>>;

const argsSchema = z.strictObject({ job: z.string().optional(), slice: z.string().optional() });

/** `--job <id> --slice <n>` (or `--job=<id>`), falling back to DVAR_JOB_ID and DVAR_SLICE. */
export function parseInvocationArgs(argv: readonly string[], env: Env): SliceInvocation {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new FunctionUsageError(`unexpected argument "${arg}"`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new FunctionUsageError(`--${match[1]} needs a value`);
    flags[match[1]!] = value;
  }
  const parsed = argsSchema.safeParse(flags);
  if (!parsed.success) throw new FunctionUsageError(`unknown option: ${z.prettifyError(parsed.error)}`);
  const job = parsed.data.job ?? env.DVAR_JOB_ID;
  const slice = parsed.data.slice ?? env.DVAR_SLICE;
  if (job === undefined || slice === undefined) throw new FunctionUsageError("needs --job <id> and --slice <n> (or DVAR_JOB_ID and DVAR_SLICE)");
  if (!/^\d+$/.test(slice)) throw new FunctionUsageError(`--slice must be a non-negative integer, got "${slice}"`);
  try {
    return parseSliceInvocation({ jobId: job, slice: Number(slice) });
  } catch (error) {
    throw new FunctionUsageError((error as Error).message);
  }
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
  let ports: WorkerPorts;
  let chainFailed = false;
  try {
    invocation = parseInvocationArgs(argv, env);
    ports = await buildWorkerPorts(env, {
      ...(options.createService ? { createService: options.createService } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onSliceError: (next, error) => {
        chainFailed = true;
        log(JSON.stringify({ event: "slice_error", jobId: next.jobId, slice: next.slice, error: describeError(error) }));
      },
      onSliceDone: (next, result) => log(JSON.stringify({ event: "slice_done", jobId: next.jobId, slice: next.slice, result })),
    });
  } catch (error) {
    log(`run-slice: ${describeError(error)}`);
    return 2;
  }

  try {
    log(JSON.stringify({ event: "slice_start", jobId: invocation.jobId, slice: invocation.slice }));
    const result = await ports.service.run(invocation, options.signal ? { signal: options.signal } : {});
    log(JSON.stringify({ event: "slice_done", jobId: invocation.jobId, slice: invocation.slice, result: result.kind }));
    if (ports.dispatcher instanceof InProcessDispatcher) await ports.dispatcher.drain();
    await deliverJobWebhooks(ports, invocation.jobId, options.webhookFetch, log);
    return chainFailed ? 1 : 0;
  } catch (error) {
    log(JSON.stringify({ event: "slice_error", jobId: invocation.jobId, slice: invocation.slice, error: describeError(error) }));
    return 1;
  } finally {
    await ports.dispatcher.close();
  }
}

/** One attempt at each of the job's due deliveries; a failure here never fails the slice. */
async function deliverJobWebhooks(ports: WorkerPorts, jobId: string, fetch: WebhookFetch | undefined, log: (line: string) => void): Promise<void> {
  try {
    await deliverDueWebhooks({ store: ports.store, policy: ports.webhookPolicy, jobId, ...(fetch ? { fetch } : {}) });
  } catch (error) {
    log(JSON.stringify({ event: "webhook_error", jobId, error: describeError(error) }));
  }
}

if (isMainModule(import.meta.url)) {
  const interrupt = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => interrupt.abort());
  const code = await runSliceFunction(process.argv.slice(2), process.env, { signal: interrupt.signal });
  // Everything is awaited by now; exit even if a client keeps a socket open, because a sandbox
  // that lingers is billed GPU time until its timeout.
  process.exit(code);
}
