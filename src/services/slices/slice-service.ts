/**
 * Runs one bounded slice of one job, fenced by the job record:
 *
 *   1. read the record and its ETag; a slice the record is not at is stale (or, for the slice
 *      just completed, a redelivery whose follow-ups are repaired idempotently); a job whose
 *      key has spent its budget fails with `budget_exhausted` (checkpoint kept);
 *   2. take the slice's lease (If-Match; the first slice also moves queued -> running and
 *      announces `inversion.started`); a live lease held by another invocation means this one
 *      is a duplicate and stops. The recovery sweep (services/recovery) dispatches a slice
 *      again once its lease has expired;
 *   3. load the checkpoint (or build the initial state) and run the core slice runner, which
 *      publishes progress between checkpoints (best-effort, ./progress.ts) and renews the lease
 *      as it goes (./lease-heartbeat.ts). A renewal that finds the lease taken over stops the
 *      slice after its current update, before it writes anything: the outcome is "lost", as
 *      when the advance of 6. loses;
 *   4. write the new checkpoint under a key of its own: durable before anything points to it;
 *      beside it, best-effort, the histories the job view shows (./history-summary.ts);
 *   5. a finished run writes its outputs the same way;
 *   6. advance the record (clearing the lease) with If-Match on the ETag of 2. Losing means another
 *      invocation owns the job: delete what this attempt wrote and stop, with no other effect;
 *   7. bill the slice once (usage record create-only per (job, slice));
 *   8. finished: announce `inversion.succeeded` / `.failed`; otherwise dispatch the next slice;
 *   9. delete the previous checkpoint, now that its replacement is durable and referenced.
 *
 * Errors that retrying cannot fix (unreadable checkpoint, invalid config, unknown objective)
 * fail the job (an advance like any other); anything else propagates so the dispatcher reports
 * it and the slice can run again from the same record.
 */
import { decodeCheckpoint, CheckpointError, encodeCheckpoint } from "../../core/checkpoint/index.js";
import { InvalidConfigError, parseInversionConfig, type InversionConfig } from "../../core/inversion/config.js";
import { runSlice, type SliceBudget, type SliceOutcome } from "../../core/inversion/run-slice.js";
import { createInitialState, type InversionState } from "../../core/inversion/state.js";
import type { Objective } from "../../core/inversion/objective.js";
import { systemClock, type Clock } from "../../ports/clock.js";
import type { ScheduleFn } from "../../ports/timer.js";
import { DEFAULT_LEASE_GRACE_MS, DEFAULT_LEASE_TTL_MS } from "../../ports/dispatcher/config.js";
import { parseSliceInvocation, type DispatchReceipt, type Dispatcher, type SliceInvocation } from "../../ports/dispatcher/dispatcher.js";
import type { Store } from "../../ports/store/index.js";
import { isTerminal, type JobRecord, type SliceLease, type SliceReport } from "../jobs/job-record.js";
import { JobStore, type VersionedJob } from "../jobs/job-store.js";
import { UsageLedger } from "../usage/usage-ledger.js";
import { keyBudgetCheck, type SpendingCheck } from "../usage/key-budget.js";
import { checkpointKey, newAttemptId, type OutputWriter } from "./artifacts.js";
import { noJobEvents, type JobEventSink } from "./events.js";
import { historySummaryKey, writeHistorySummary } from "./history-summary.js";
import { LeaseHeartbeat, type LeaseOwnership } from "./lease-heartbeat.js";
import { ProgressPublisher, type ProgressOptions } from "./progress.js";
import { ObjectiveInputError, UnsupportedObjectiveError, type ObjectiveFactory, type PreparedObjective } from "./objectives.js";
import { writeDefaultOutputs } from "./textual-inversion.js";

export interface SliceRunOptions {
  /** Aborted on shutdown: the slice stops after the current update, checkpoints, and does not dispatch a successor. */
  readonly signal?: AbortSignal;
}

export type SliceRunResult =
  /** This invocation advanced the job. `next` is the successor's receipt when one was dispatched. */
  | { readonly kind: "advanced"; readonly job: JobRecord; readonly outcome: SliceOutcome; readonly next: DispatchReceipt | null }
  /**
   * Another writer advanced the record first, another live invocation holds the slice's lease,
   * or a renewal found the lease taken over while this one ran; this one left nothing behind.
   */
  | { readonly kind: "lost"; readonly job: JobRecord }
  /** A redelivery of the slice that was just completed: billing and the follow-up were made sure of. */
  | { readonly kind: "repaired"; readonly job: JobRecord; readonly next: DispatchReceipt | null }
  /** Nothing to do: the job is elsewhere (another slice, finished, canceled). */
  | { readonly kind: "stale"; readonly job: JobRecord; readonly reason: string }
  /** The job could not go on (unreadable checkpoint, unusable config or objective, budget spent) and was marked failed. */
  | { readonly kind: "failed"; readonly job: JobRecord };

export interface SliceService {
  run(invocation: SliceInvocation, options?: SliceRunOptions): Promise<SliceRunResult>;
}

export interface SliceServiceDeps {
  readonly store: Store;
  readonly dispatcher: Pick<Dispatcher, "dispatch">;
  readonly objectives: ObjectiveFactory;
  readonly budget: SliceBudget;
  /** Where slices run, as billed ("cpu", "nvidia-l40s", ...). */
  readonly device: string;
  readonly events?: JobEventSink;
  readonly outputs?: OutputWriter;
  /** Wall time for timestamps and billed seconds. */
  readonly clock?: Clock;
  /** Monotonic milliseconds for the slice budget (default performance.now). */
  readonly monotonic?: () => number;
  readonly attemptId?: () => string;
  /**
   * Start-up allowance of the lease (default 5 minutes): model loading happens before the first
   * renewal. With the heartbeat off, the lease lasts the wall budget plus this; keep it then at
   * least the sandbox timeout margin, so a lease expires only once the platform has surely
   * stopped the slice.
   */
  readonly leaseGraceMs?: number;
  /**
   * The heartbeat's TTL (default 60 s): a running slice renews its lease to now + this, at
   * least every third of it, from its own step calls and, during a call, from a timer
   * (./lease-heartbeat.ts). It must exceed the checkpoint write and advance, and any stretch in
   * which the event loop is blocked (a graph compilation; a native onnxruntime run only for
   * sessions on the event loop's thread: the textual-inversion objective's are not). 0: no
   * heartbeat, the lease lasts wall budget + grace.
   */
  readonly leaseTtlMs?: number;
  /** The heartbeat's timer during objective calls (default Node's, unref'd). */
  readonly schedule?: ScheduleFn;
  /** Asked before every slice (default: the job's key's budget in the store). */
  readonly spending?: SpendingCheck;
  /** How often a running slice publishes its progress (./progress.ts; default every 2 s); false: never. */
  readonly progress?: ProgressOptions | false;
}

export class JobNotFoundError extends Error {
  override readonly name = "JobNotFoundError";
}

/** A failure that retrying cannot fix: the job is failed with this code. */
class PermanentSliceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class StoreSliceService implements SliceService {
  private readonly jobs: JobStore;
  private readonly usage: UsageLedger;
  private readonly events: JobEventSink;
  private readonly outputs: OutputWriter;
  private readonly clock: Clock;
  private readonly monotonic: () => number;
  private readonly attemptId: () => string;
  private readonly leaseGraceMs: number;
  private readonly leaseTtlMs: number;
  private readonly spending: SpendingCheck;

  constructor(private readonly deps: SliceServiceDeps) {
    this.jobs = new JobStore(deps.store);
    this.usage = new UsageLedger(deps.store);
    this.events = deps.events ?? noJobEvents;
    this.outputs = deps.outputs ?? writeDefaultOutputs;
    this.clock = deps.clock ?? systemClock;
    this.monotonic = deps.monotonic ?? (() => performance.now());
    this.attemptId = deps.attemptId ?? newAttemptId;
    this.leaseGraceMs = deps.leaseGraceMs ?? DEFAULT_LEASE_GRACE_MS;
    this.leaseTtlMs = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.spending = deps.spending ?? keyBudgetCheck(deps.store);
  }

  async run(input: SliceInvocation, options: SliceRunOptions = {}): Promise<SliceRunResult> {
    const leased: { job?: VersionedJob } = {};
    try {
      return await this.runLeased(input, options, leased);
    } catch (error) {
      // A failure that may pass (a lost GPU, the store unavailable): hand the slice back, so a
      // redelivery need not wait for the lease to expire. Should this fail too, the lease
      // expires; after the advance it fails harmlessly (If-Match).
      if (leased.job) await this.releaseLease(leased.job).catch(() => {});
      throw error;
    }
  }

  private async runLeased(input: SliceInvocation, options: SliceRunOptions, leased: { job?: VersionedJob }): Promise<SliceRunResult> {
    const invocation = parseSliceInvocation(input);
    const startedAt = this.clock.now();
    let current = await this.jobs.read(invocation.jobId);
    if (!current) throw new JobNotFoundError(`job "${invocation.jobId}" does not exist (slice ${invocation.slice})`);
    if (current.record.slice !== invocation.slice || isTerminal(current.record.status)) return this.redelivered(invocation, current);
    const overBudget = await this.spending(current.record);
    if (overBudget !== undefined) return this.failJob(current, new PermanentSliceError("budget_exhausted", overBudget));

    // 2. Take the slice's lease (the first slice also claims the job), so a duplicate loses
    //    before any GPU work.
    const attempt = this.attemptId();
    const claimed = await this.claim(invocation, current, attempt);
    if (claimed.kind === "lost") return claimed;
    current = leased.job = claimed.job;

    let state: InversionState;
    let prepared: PreparedObjective | undefined;
    try {
      const config = parseInversionConfig(current.record.config);
      prepared = await this.deps.objectives(config, invocation.jobId);
      state = await this.loadState(current.record, config, prepared);
    } catch (error) {
      await prepared?.close?.();
      const permanent = asPermanent(error);
      if (!permanent) throw error;
      return this.failJob(current, permanent);
    }

    // 3. The bounded slice, publishing its progress as it goes (best-effort, not fenced) and
    //    renewing its lease (fenced: a lost lease stops it).
    const progress = this.deps.progress === false ? undefined : new ProgressPublisher({
      store: this.deps.store,
      jobId: invocation.jobId,
      slice: invocation.slice,
      fromStep: state.step,
      monotonic: this.monotonic,
      ...(this.deps.progress ? { options: this.deps.progress } : {}),
    });
    const heartbeat =
      this.leaseTtlMs > 0
        ? new LeaseHeartbeat({ jobs: this.jobs, held: current, clock: this.clock, ttlMs: this.leaseTtlMs, ...(this.deps.schedule ? { schedule: this.deps.schedule } : {}) })
        : undefined;
    const beats = {
      beat: () => heartbeat?.beat(),
      idle: async () => heartbeat?.idle(),
      during: <T>(call: () => Promise<T>) => (heartbeat ? heartbeat.during(call) : call()),
    };
    let result;
    let ownership: LeaseOwnership | undefined;
    try {
      result = await runSlice(state, {
        objective: yieldingObjective(prepared.objective, beats),
        budget: this.deps.budget,
        clock: this.monotonic,
        interrupted: () => (options.signal?.aborted ?? false) || (heartbeat?.lost ?? false),
        onUpdate: (step: number, _params: Float32Array, history: InversionState["history"]) => {
          progress?.update(step, history);
          beats.beat();
        },
      });
    } finally {
      // The heartbeat stops first (its timer is cleared at once: nothing outlives the slice).
      // The record to advance (or to give the lease back from) is the last renewal's; a lost
      // lease is not ours to give back.
      const settling = heartbeat?.settle();
      await progress?.close();
      await prepared.close?.();
      ownership = await settling;
      if (ownership) leased.job = ownership.kind === "held" ? ownership.job : undefined;
    }
    // Taken over while it ran: the new holder owns the job; write nothing (as a lost advance leaves nothing).
    if (ownership?.kind === "lost") return { kind: "lost", job: ownership.job };
    if (ownership?.kind === "held") current = ownership.job;

    // 4-5. Everything the advance will point to, durable first, under this attempt's keys.
    const written: string[] = [];
    const newCheckpoint = checkpointKey(invocation.jobId, result.state.step, attempt);
    await this.deps.store.put(newCheckpoint, encodeCheckpoint(result.state), { ifNoneMatch: "*", contentType: "application/octet-stream" });
    written.push(newCheckpoint);
    const summary = historySummaryKey(newCheckpoint);
    if (summary !== undefined) {
      // Listed before the write: a write whose answer was lost is discarded too.
      written.push(summary);
      await writeHistorySummary(this.deps.store, summary, result.state);
    }
    const finished = result.state.finished;
    let outputs: Record<string, string> | null = null;
    try {
      if (finished && finished.kind !== "failed") {
        outputs = await this.outputs({ store: this.deps.store, job: current.record, state: result.state, attempt });
        written.push(...Object.values(outputs));
      }
    } catch (error) {
      await this.discard(written);
      throw error;
    }

    // 6. The advance, fenced by the ETag this invocation read.
    const report: SliceReport = {
      slice: invocation.slice,
      steps: result.stepsRun,
      seconds: Math.max(0, (this.clock.now() - startedAt) / 1000),
      device: this.deps.device,
      finishedAt: this.iso(),
    };
    const status = finished === null ? "running" : finished.kind === "failed" ? "failed" : "succeeded";
    const advanced = await this.jobs.advance(current, {
      ...current.record,
      status,
      slice: invocation.slice + 1,
      step: result.state.step,
      checkpoint: newCheckpoint,
      outcome: finished,
      outputs,
      lastSlice: report,
      lease: null,
      redispatch: null,
      error: finished?.kind === "failed" ? { code: "optimization_failed", message: finished.reason } : null,
      updatedAt: report.finishedAt,
      finishedAt: finished === null ? null : report.finishedAt,
    });
    if (!advanced) {
      await this.discard(written);
      return { kind: "lost", job: current.record };
    }

    // 7-8. Billing and the follow-up; both are safe to repeat (see `redelivered`).
    await this.bill(advanced.record, report);
    let next: DispatchReceipt | null = null;
    if (finished) await this.events.emit(advanced.record, status === "succeeded" ? "inversion.succeeded" : "inversion.failed");
    else if (!(result.outcome.kind === "continue" && result.outcome.reason === "interrupted")) {
      next = await this.deps.dispatcher.dispatch({ jobId: invocation.jobId, slice: invocation.slice + 1 });
    }

    // 9. Only now is the previous checkpoint garbage (and its history summary).
    if (current.record.checkpoint !== null) {
      await this.deps.store.delete(current.record.checkpoint);
      const oldSummary = historySummaryKey(current.record.checkpoint);
      if (oldSummary !== undefined) await this.deps.store.delete(oldSummary);
    }
    return { kind: "advanced", job: advanced.record, outcome: result.outcome, next };
  }

  /**
   * Writes this invocation's lease on the slice (If-Match). A lease another invocation holds
   * and that has not expired means this one is a duplicate: it stops. A write that loses to
   * another writer (the recovery sweep's bookkeeping, a racing duplicate) is retried from a
   * fresh read, which then decides.
   */
  private async claim(invocation: SliceInvocation, read: VersionedJob, attempt: string): Promise<{ kind: "claimed"; job: VersionedJob } | { kind: "lost"; job: JobRecord }> {
    let current = read;
    for (let tries = 0; ; tries++) {
      const job = current.record;
      const held = job.lease;
      if (job.slice !== invocation.slice || isTerminal(job.status) || tries === 4) return { kind: "lost", job };
      if (held !== null && held.slice === invocation.slice && Date.parse(held.expiresAt) > this.clock.now()) return { kind: "lost", job };
      const lease = this.newLease(invocation.slice, attempt, this.clock.now());
      const starting = job.status === "queued";
      const claimed = await this.jobs.advance(current, {
        ...job,
        status: "running",
        lease,
        updatedAt: lease.startedAt,
        ...(starting ? { startedAt: lease.startedAt } : {}),
      });
      if (claimed) {
        if (starting) await this.events.emit(claimed.record, "inversion.started");
        return { kind: "claimed", job: claimed };
      }
      const reread = await this.jobs.read(invocation.jobId);
      if (!reread) throw new JobNotFoundError(`job "${invocation.jobId}" disappeared while slice ${invocation.slice} started`);
      current = reread;
    }
  }

  /**
   * With the heartbeat, the lease first covers start-up (grace) plus one TTL and then lives from
   * renewal to renewal; without it, it covers the whole wall budget plus grace.
   */
  private newLease(slice: number, attempt: string, now: number): SliceLease {
    if (this.leaseTtlMs > 0) return { slice, attempt, startedAt: this.iso(now), expiresAt: this.iso(now + this.leaseGraceMs + this.leaseTtlMs), ttlMs: this.leaseTtlMs };
    return { slice, attempt, startedAt: this.iso(now), expiresAt: this.iso(now + (this.deps.budget.maxWallMs ?? 0) + this.leaseGraceMs) };
  }

  private async releaseLease(held: VersionedJob): Promise<void> {
    await this.jobs.advance(held, { ...held.record, lease: null, updatedAt: this.iso() });
  }

  /**
   * An invocation for a slice the record is not at. If it is the slice completed last, its
   * follow-ups may have been cut short (a crash after the advance): bill it (create-only) and
   * dispatch the successor again (deduplicated, and fenced anyway) or re-announce the end
   * (same webhook-id). Any other slice is stale.
   */
  private async redelivered(invocation: SliceInvocation, current: VersionedJob): Promise<SliceRunResult> {
    const job = current.record;
    const last = job.lastSlice;
    if (job.slice !== invocation.slice + 1 || last === null || last.slice !== invocation.slice) {
      return { kind: "stale", job, reason: `job is at slice ${job.slice} (${job.status}); slice ${invocation.slice} has nothing to do` };
    }
    await this.bill(job, last);
    let next: DispatchReceipt | null = null;
    if (job.status === "running") next = await this.deps.dispatcher.dispatch({ jobId: job.id, slice: job.slice });
    else if (job.status === "succeeded" || job.status === "failed") await this.events.emit(job, `inversion.${job.status}`);
    return { kind: "repaired", job, next };
  }

  private async loadState(job: JobRecord, config: InversionConfig, prepared: PreparedObjective): Promise<InversionState> {
    if (job.checkpoint === null) return createInitialState(config, prepared.initialParams());
    const found = await this.deps.store.get(job.checkpoint);
    if (!found) throw new PermanentSliceError("checkpoint_missing", `job "${job.id}": checkpoint ${job.checkpoint} does not exist`);
    const state = decodeCheckpoint(found.body, { expectedConfigHash: job.configHash });
    if (state.step !== job.step) {
      throw new PermanentSliceError("checkpoint_mismatch", `job "${job.id}": checkpoint is at step ${state.step}, the record at ${job.step}`);
    }
    return state;
  }

  private async failJob(current: VersionedJob, error: PermanentSliceError): Promise<SliceRunResult> {
    const at = this.iso();
    const failed = await this.jobs.advance(current, {
      ...current.record,
      status: "failed",
      lease: null,
      error: { code: error.code, message: error.message },
      updatedAt: at,
      finishedAt: at,
    });
    if (!failed) return { kind: "lost", job: current.record };
    await this.events.emit(failed.record, "inversion.failed");
    return { kind: "failed", job: failed.record };
  }

  private async bill(job: JobRecord, report: SliceReport): Promise<void> {
    await this.usage.record({
      tenantId: job.tenantId,
      keyId: job.keyId,
      jobId: job.id,
      slice: report.slice,
      steps: report.steps,
      device: report.device,
      seconds: report.seconds,
      recordedAt: report.finishedAt,
    });
  }

  /** Removes what a losing or failing attempt wrote; nothing else points to those keys. */
  private async discard(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.deps.store.delete(key);
  }

  private iso(at = this.clock.now()): string {
    return new Date(at).toISOString();
  }
}

/**
 * The objective with a turn of the event loop before every training step: a CPU-bound objective
 * (the synthetic one) would otherwise never let a signal handler or timer run, so SIGTERM could
 * not interrupt the slice; the cost is microseconds against a GPU step of tens of milliseconds.
 * The heartbeat beats before every call and from its timer during it, so a long training step,
 * L_det or score evaluation does not outlast the lease, and a renewal in flight is waited for
 * before the next training step (./lease-heartbeat.ts).
 */
function yieldingObjective(
  objective: Objective,
  heartbeat: { idle(): Promise<void>; during<T>(call: () => Promise<T>): Promise<T> },
): Objective {
  return {
    size: objective.size,
    trainLossAndGradient: async (step, params) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await heartbeat.idle();
      return heartbeat.during(() => objective.trainLossAndGradient(step, params));
    },
    evalLoss: (params) => heartbeat.during(() => objective.evalLoss(params)),
    ...(objective.evalScore ? { evalScore: (params: Float32Array) => heartbeat.during(() => objective.evalScore!(params)) } : {}),
  };
}

function asPermanent(error: unknown): PermanentSliceError | undefined {
  if (error instanceof PermanentSliceError) return error;
  if (error instanceof CheckpointError) return new PermanentSliceError(`checkpoint_${error.code}`, error.message);
  if (error instanceof InvalidConfigError) return new PermanentSliceError("invalid_config", error.message);
  if (error instanceof UnsupportedObjectiveError) return new PermanentSliceError("unsupported_objective", error.message);
  if (error instanceof ObjectiveInputError) return new PermanentSliceError(error.code, error.message);
  return undefined;
}
