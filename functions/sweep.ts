/**
 * The recovery sweep as a process, for serverless deployments where no server runs between
 * slices; call it from a scheduler (a Modal schedule, a Workers cron calling a Node host,
 * systemd timer, Kubernetes CronJob) every minute or so:
 *
 *   node dist/functions/sweep.js
 *
 * One pass, then exit:
 *   1. every active job whose current slice died (lease expired, or never started) is dispatched
 *      again for the same slice through the configured dispatcher; after DVAR_SWEEP_MAX_REDISPATCHES
 *      the job fails with `slice_retries_exhausted` (services/recovery);
 *   2. with the in-process dispatcher, the redispatched slices run here, to the job's end;
 *   3. every webhook delivery in the outbox whose backoff is due gets one attempt, so retries of a
 *      job's last events go on after its last slice.
 * Same configuration as functions/run-slice.ts (DVAR_STORE*, DVAR_DISPATCHER*, DVAR_SLICE_*,
 * DVAR_ALLOW_PRIVATE_WEBHOOKS) plus DVAR_SWEEP_* (src/config/sweep-config.ts). Two sweeps at once
 * are harmless. SIGTERM/SIGINT interrupt in-process slices after their current update.
 * Exit codes: 0 pass done, 1 some job, slice or delivery failed (logged; the next pass retries),
 * 2 bad arguments or configuration.
 */
import { parseSweepConfig } from "../src/config/sweep-config.js";
import type { Clock } from "../src/ports/clock.js";
import { InProcessDispatcher } from "../src/ports/dispatcher/inprocess.js";
import { JobSweeper } from "../src/services/recovery/index.js";
import type { WebhookFetch } from "../src/services/webhooks/index.js";
import { buildWorkerPorts, deliverDueWebhooks, describeError, FunctionUsageError, isMainModule, type WorkerPorts } from "./worker-ports.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface SweepFunctionOptions {
  /** Wall time for lease expiry, backoff and webhook retries (tests). */
  readonly clock?: Clock;
  /** The webhook transport (default: createGuardedFetch under the configured address policy). */
  readonly webhookFetch?: WebhookFetch;
  /** Where progress lines go (default stderr). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export async function runSweepFunction(argv: readonly string[], env: Env, options: SweepFunctionOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let ports: WorkerPorts;
  let sweeper: JobSweeper;
  let failed = false;
  try {
    if (argv.length > 0) throw new FunctionUsageError(`sweep takes no arguments (got ${argv.join(" ")}); it is configured by DVAR_* variables`);
    const sweep = parseSweepConfig(env);
    ports = await buildWorkerPorts(env, {
      ...(options.signal ? { signal: options.signal } : {}),
      onSliceError: (invocation, error) => {
        failed = true;
        log(JSON.stringify({ event: "slice_error", ...invocation, error: describeError(error) }));
      },
      onSliceDone: (invocation, result) => log(JSON.stringify({ event: "slice_done", ...invocation, result })),
    });
    sweeper = new JobSweeper({ store: ports.store, dispatcher: ports.dispatcher, events: ports.events, policy: sweep.policy, ...(options.clock ? { clock: options.clock } : {}) });
  } catch (error) {
    log(`sweep: ${describeError(error)}`);
    return 2;
  }

  try {
    const result = await sweeper.sweep();
    for (const { jobId, error } of result.errors) log(JSON.stringify({ event: "sweep_error", jobId, error: describeError(error) }));
    log(
      JSON.stringify({
        event: "sweep_done",
        checked: result.checked,
        redispatched: result.redispatched,
        failed: result.failed,
        cleared: result.cleared,
        errors: result.errors.length,
      }),
    );
    if (result.errors.length > 0) failed = true;
    if (ports.dispatcher instanceof InProcessDispatcher) await ports.dispatcher.drain();
    const attempted = await deliverDueWebhooks({
      store: ports.store,
      policy: ports.webhookPolicy,
      ...(options.webhookFetch ? { fetch: options.webhookFetch } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    log(JSON.stringify({ event: "webhooks_done", attempted }));
    return failed ? 1 : 0;
  } catch (error) {
    log(JSON.stringify({ event: "sweep_error", error: describeError(error) }));
    return 1;
  } finally {
    await ports.dispatcher.close();
  }
}

if (isMainModule(import.meta.url)) {
  const interrupt = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => interrupt.abort());
  const code = await runSweepFunction(process.argv.slice(2), process.env, { signal: interrupt.signal });
  process.exit(code);
}
