/**
 * The recovery sweep: walks the active-job markers and applies `decideRecovery` to each job.
 *
 *   - terminal (succeeded, failed, canceled): the job's copies of its training images
 *     (`jobs/<id>/inputs/`) and its VAE latent cache (`jobs/<id>/latents/`, which decodes back to
 *     them) are deleted, then the marker goes; a deletion that fails leaves the marker, so the
 *     next pass tries again. Nothing else of the job is deleted (checkpoints, histories, outputs
 *     stay). A non-terminal job never loses its inputs here;
 *   - a dead slice: dispatched again through the configured dispatcher. A receipt that says
 *     "duplicate" means the backend still holds that slice (queued in this process, a sandbox
 *     still running), so nothing is counted. Otherwise the redispatch is recorded in the job
 *     record (If-Match, clearing the expired lease) so attempts are bounded across sweeps and
 *     processes; a record that changed meanwhile is left alone (the slice started);
 *   - attempts exhausted: the job fails (If-Match) with `slice_retries_exhausted` and announces
 *     `inversion.failed`; then as terminal;
 *   - a marker without a record (a create that died before writing it): removed once
 *     `orphanMarkerMs` old; when the create had copied inputs (creation marks the job before its
 *     first copy), they and the marker go once `orphanInputsMs` old, long after any create could
 *     still be copying. A retry under the create's Idempotency-Key writes the marker again, so
 *     its age starts over.
 *
 * The sweep never writes a record whose slice holds a live lease, so a running slice never
 * loses its advance to it; two sweeps at once are harmless (dispatch is deduplicated, the
 * slice's lease and advance are fenced, the bookkeeping write is If-Match).
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import type { DispatchReceipt, Dispatcher, SliceInvocation } from "../../ports/dispatcher/index.js";
import type { Store } from "../../ports/store/index.js";
import { activeJobIds, clearJobActive, jobMarkedAt, markJobActive } from "../jobs/active-jobs.js";
import { deleteAllJobInputs, deleteJobImageData, jobInputKeys } from "../jobs/job-inputs.js";
import { JobStore, type VersionedJob } from "../jobs/job-store.js";
import { noJobEvents, type JobEventSink } from "../slices/events.js";
import { assertRecoveryPolicy, decideRecovery, DEFAULT_RECOVERY_POLICY, SLICE_RETRIES_EXHAUSTED, type RecoveryPolicy } from "./recovery-policy.js";

export interface JobSweeperDeps {
  readonly store: Store;
  readonly dispatcher: Pick<Dispatcher, "dispatch">;
  readonly events?: JobEventSink;
  readonly clock?: Clock;
  readonly policy?: Partial<RecoveryPolicy>;
  /** A marker whose record never appeared is removed after this long (default 1 hour). */
  readonly orphanMarkerMs?: number;
  /** A marker whose record never appeared but whose job has inputs: they and the marker go after this long (default 1 day). */
  readonly orphanInputsMs?: number;
}

export interface SweepResult {
  /** Jobs looked at. */
  readonly checked: number;
  readonly redispatched: Array<SliceInvocation & { readonly duplicate: boolean }>;
  /** Jobs failed with slice_retries_exhausted. */
  readonly failed: string[];
  /** Markers removed (terminal jobs, orphans). */
  readonly cleared: number;
  /** Jobs whose inputs (`jobs/<id>/inputs/`) this pass deleted: ended jobs, and creates that never wrote a record. */
  readonly inputsDeleted: string[];
  /** Jobs the pass could not handle (unreadable record, store or dispatch failure); the next pass tries again. */
  readonly errors: Array<{ readonly jobId: string; readonly error: unknown }>;
  /** The earliest time a waiting job is due to be looked at again. */
  readonly nextDueAt?: number;
}

type PassTally = { redispatched: SweepResult["redispatched"]; failed: string[]; cleared: number; inputsDeleted: string[] };

export class JobSweeper {
  private readonly jobs: JobStore;
  private readonly events: JobEventSink;
  private readonly clock: Clock;
  private readonly policy: RecoveryPolicy;
  private readonly orphanMarkerMs: number;
  private readonly orphanInputsMs: number;

  constructor(private readonly deps: JobSweeperDeps) {
    this.jobs = new JobStore(deps.store);
    this.events = deps.events ?? noJobEvents;
    this.clock = deps.clock ?? systemClock;
    this.policy = { ...DEFAULT_RECOVERY_POLICY, ...deps.policy };
    assertRecoveryPolicy(this.policy);
    this.orphanMarkerMs = deps.orphanMarkerMs ?? 60 * 60 * 1000;
    this.orphanInputsMs = deps.orphanInputsMs ?? 24 * 60 * 60 * 1000;
  }

  /** One pass over every active job; a job that fails is reported and the pass goes on. */
  async sweep(): Promise<SweepResult> {
    const result = { checked: 0, redispatched: [] as SweepResult["redispatched"], failed: [] as string[], cleared: 0, inputsDeleted: [] as string[], errors: [] as SweepResult["errors"] };
    let nextDueAt: number | undefined;
    for await (const jobId of activeJobIds(this.deps.store)) {
      result.checked++;
      try {
        const due = await this.sweepJob(jobId, result);
        if (due !== undefined) nextDueAt = Math.min(nextDueAt ?? due, due);
      } catch (error) {
        result.errors.push({ jobId, error });
      }
    }
    return nextDueAt === undefined ? result : { ...result, nextDueAt };
  }

  /** Handles one job; returns when it wants to be looked at again, if it waits. */
  private async sweepJob(jobId: string, result: PassTally): Promise<number | undefined> {
    const current = await this.jobs.read(jobId);
    const now = this.clock.now();
    if (!current) return this.sweepOrphan(jobId, now, result);
    const decision = decideRecovery(current.record, now, this.policy);
    switch (decision.kind) {
      case "terminal": {
        // A slice may still be running for a job canceled under it (its lease not yet expired) and
        // could still write its latent cache: forget the job only once that lease has run out.
        const leaseEnds = current.record.lease ? Date.parse(current.record.lease.expiresAt) : NaN;
        if (leaseEnds > now) return leaseEnds;
        await this.forget(jobId, result);
        return undefined;
      }
      case "wait":
        return decision.dueAt;
      case "fail":
        if (await this.fail(current, decision.slice, decision.redispatches)) {
          result.failed.push(jobId);
          await this.forget(jobId, result);
        }
        return undefined;
      case "redispatch": {
        const receipt = await this.deps.dispatcher.dispatch({ jobId, slice: decision.slice });
        result.redispatched.push({ jobId, slice: decision.slice, duplicate: receipt.duplicate });
        if (!receipt.duplicate) await this.recordRedispatch(current, receipt, decision.count);
        return undefined;
      }
    }
  }

  /** An ended job: its inputs and latent cache go, then its marker (so a failed deletion is retried next pass). */
  private async forget(jobId: string, result: PassTally): Promise<void> {
    if ((await deleteJobImageData(this.deps.store, jobId)) > 0) result.inputsDeleted.push(jobId);
    await clearJobActive(this.deps.store, jobId);
    result.cleared++;
  }

  /**
   * A marker whose record is missing: a create under way, or one that died. Without inputs the
   * marker goes once `orphanMarkerMs` old; with inputs, they and the marker go once
   * `orphanInputsMs` old (returns when that is). If the record appears while the inputs are being
   * deleted (a retry under the same Idempotency-Key raced this pass), the marker stays.
   */
  private async sweepOrphan(jobId: string, now: number, result: PassTally): Promise<number | undefined> {
    const markedAt = await jobMarkedAt(this.deps.store, jobId);
    const age = markedAt === undefined ? Infinity : now - markedAt;
    if (age < this.orphanMarkerMs) return undefined;
    if ((await jobInputKeys(this.deps.store, jobId)).length > 0) {
      if (age < this.orphanInputsMs) return markedAt! + this.orphanInputsMs;
      if ((await deleteAllJobInputs(this.deps.store, jobId)) > 0) result.inputsDeleted.push(jobId);
      if (await this.jobs.read(jobId)) return undefined;
    }
    await clearJobActive(this.deps.store, jobId);
    // A retry under the create's Idempotency-Key may have written the record meanwhile: its job
    // must stay visible to the sweep.
    if (await this.jobs.read(jobId)) await markJobActive(this.deps.store, jobId, new Date(this.clock.now()));
    else result.cleared++;
    return undefined;
  }

  /** Counts the redispatch in the record, unless the record moved (the slice has started, or the job changed). */
  private async recordRedispatch(current: VersionedJob, receipt: DispatchReceipt, count: number): Promise<void> {
    const at = new Date(this.clock.now()).toISOString();
    await this.jobs.advance(current, { ...current.record, lease: null, redispatch: { slice: receipt.slice, count, at }, updatedAt: at });
  }

  private async fail(current: VersionedJob, slice: number, redispatches: number): Promise<boolean> {
    const at = new Date(this.clock.now()).toISOString();
    const failed = await this.jobs.advance(current, {
      ...current.record,
      status: "failed",
      lease: null,
      error: {
        code: SLICE_RETRIES_EXHAUSTED,
        message: `slice ${slice} did not complete in ${redispatches + 1} attempts (its dispatch and ${redispatches} redispatches); the job stops at its last checkpoint`,
      },
      updatedAt: at,
      finishedAt: at,
    });
    if (!failed) return false;
    await this.events.emit(failed.record, "inversion.failed");
    return true;
  }
}
