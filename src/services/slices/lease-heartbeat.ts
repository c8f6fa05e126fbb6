/**
 * The lease heartbeat: while a slice runs, its lease in the job record is renewed so that it
 * expires `ttlMs` after the last renewal, and a slice that died is noticed after the TTL instead
 * of after its whole wall budget plus grace.
 *
 * Renewals are driven by the slice's own calls (a beat as every objective call starts, in
 * `during()`, and after every update, `beat()`) and, while a call is in flight, by a timer: one
 * call may outlast the TTL (a full-size model on CPU, a first GPU call compiling its graph and
 * kernels). The timer fires only while the event loop is free. onnxruntime-node 1.30 runs each
 * native `session.run` on the calling thread (deferred by setImmediate, not moved off it), so
 * the service's textual-inversion objective runs its sessions on worker threads
 * (runtime/session-thread.ts) and the timer renews during a run too; what still blocks the loop
 * is this process's own JavaScript (the gradient-graph compilation of a first call, an
 * objective that computes in JS), and the TTL must exceed the longest such stretch. The timer
 * is cleared when the call ends and by `settle()`, so nothing outlives the slice.
 *
 * A beat renews when a third of the TTL has passed since the last renewal or the claim (by the
 * injected clock), or sooner should the lease have less than two thirds of the TTL left: the
 * due time comes from the lease in the record, not from when the heartbeat was made, so a
 * start-up that used up most of the claim's grace is followed by a renewal at the first beat.
 * Two renewals can thus be late or fail before the lease runs out. A renewal runs beside the
 * slice's work (beats meanwhile are dropped) and the next training step waits for it
 * (`idle()`), so a loss is seen within one step and at most one renewal is ever in flight.
 * A renewal is an advance of the record with If-Match, like the claim:
 *
 *   - won: the lease's `expiresAt` moves to now + TTL (and `renewedAt` to now); later writes
 *     (the next renewal, the slice's advance) use the new ETag;
 *   - lost (412): the record is read again; if it still carries this attempt's lease on a live
 *     job (another writer changed something else, or our own write landed but its answer was
 *     lost) the renewal is retried from it; otherwise the slice was taken over (the sweep cleared
 *     its expired lease, another invocation claimed it and may have advanced), canceled or
 *     deleted, and `lost` is set: the slice stops after its current update and writes nothing;
 *   - any other error: ignored, the next due beat tries again (the lease may run out meanwhile,
 *     and then the fencing above decides).
 */
import type { Clock } from "../../ports/clock.js";
import { realTimer, type ScheduleFn } from "../../ports/timer.js";
import { isTerminal, type JobRecord, type SliceLease } from "../jobs/job-record.js";
import type { JobStore, VersionedJob } from "../jobs/job-store.js";

/** Renewals retried from a fresh read after losing to a writer that left this lease in place. */
const MAX_CONFLICTS = 4;

export interface LeaseHeartbeatDeps {
  readonly jobs: JobStore;
  /** The record as the claim wrote it: it holds this invocation's lease. */
  readonly held: VersionedJob;
  readonly clock: Clock;
  readonly ttlMs: number;
  /** The timer of renewals during a call (default Node's, unref'd). */
  readonly schedule?: ScheduleFn;
}

export type LeaseOwnership = { readonly kind: "held"; readonly job: VersionedJob } | { readonly kind: "lost"; readonly job: JobRecord };

export class LeaseHeartbeat {
  private current: VersionedJob;
  private lostTo: JobRecord | undefined;
  /** The last renewal or attempt (first: the lease's own), and when the next one is due. */
  private lastAt: number;
  private dueAt: number;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  /** Objective calls in flight, and the timer that beats meanwhile. */
  private calls = 0;
  private cancelTimer: (() => void) | undefined;
  private readonly schedule: ScheduleFn;
  private readonly lease: SliceLease;
  private readonly renewEveryMs: number;

  constructor(private readonly deps: LeaseHeartbeatDeps) {
    if (!(deps.ttlMs > 0)) throw new RangeError(`lease TTL must be positive, got ${deps.ttlMs}`);
    const lease = deps.held.record.lease;
    if (lease === null) throw new Error(`job "${deps.held.record.id}" holds no lease to renew`);
    this.current = deps.held;
    this.lease = lease;
    this.renewEveryMs = deps.ttlMs / 3;
    this.schedule = deps.schedule ?? realTimer;
    this.lastAt = Date.parse(lease.renewedAt ?? lease.startedAt);
    this.dueAt = Math.min(this.lastAt + this.renewEveryMs, Date.parse(lease.expiresAt) - 2 * this.renewEveryMs);
  }

  /** True once a renewal found the lease taken over (or the job canceled or gone). */
  get lost(): boolean {
    return this.lostTo !== undefined;
  }

  /** Renews in the background when due; never waits, never throws. */
  beat(): void {
    this.beatAt(this.deps.clock.now());
  }

  /** Beats, then runs one objective call with a timer beating while it is in flight; the timer goes when the call ends. */
  async during<T>(call: () => Promise<T>): Promise<T> {
    const now = this.deps.clock.now();
    this.beatAt(now);
    if (this.calls++ === 0) this.arm(now);
    try {
      return await call();
    } finally {
      if (--this.calls === 0) this.disarm();
    }
  }

  private beatAt(now: number): void {
    if (this.stopped || this.lostTo || this.inFlight) return;
    // A clock that went backwards renews too, rather than waiting for it to catch up.
    if (now < this.dueAt && now >= this.lastAt) return;
    this.lastAt = now;
    // A failed attempt is retried a third of the TTL later too; a won one sets expiresAt - 2/3 TTL to the same.
    this.dueAt = now + this.renewEveryMs;
    this.inFlight = this.renew(now).finally(() => (this.inFlight = undefined));
  }

  /** Waits for a renewal in flight (before a training step: a loss then stops the slice one step later at most). */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  /** Stops beating and waits for a renewal in flight: the record to advance from, or the loss. */
  async settle(): Promise<LeaseOwnership> {
    this.stopped = true;
    this.disarm();
    await this.inFlight;
    return this.lostTo ? { kind: "lost", job: this.lostTo } : { kind: "held", job: this.current };
  }

  /** Sets the timer for when the next renewal is due (a third of the TTL on, if it is due already: one is then in flight). */
  private arm(now: number): void {
    if (this.stopped || this.lostTo) return;
    const left = this.dueAt - now;
    this.cancelTimer = this.schedule(() => this.tick(), left > 0 && left <= this.renewEveryMs ? left : this.renewEveryMs);
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** The timer's beat; returns the renewal it started, so a test's scheduler can wait for it. */
  private tick(): Promise<void> {
    this.cancelTimer = undefined;
    const now = this.deps.clock.now();
    this.beatAt(now);
    const renewal = this.inFlight ?? Promise.resolve();
    if (this.calls > 0) this.arm(now);
    return renewal;
  }

  private async renew(now: number): Promise<void> {
    try {
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        // The lease as stored (this attempt's: checked by stillOurs after every conflict), so
        // fields another release's process added to it are renewed with it.
        const held = this.current.record.lease ?? this.lease;
        const renewed = await this.deps.jobs.advance(this.current, {
          ...this.current.record,
          lease: { ...held, expiresAt: new Date(now + this.deps.ttlMs).toISOString(), renewedAt: new Date(now).toISOString() },
        });
        if (renewed) {
          this.current = renewed;
          return;
        }
        const reread = await this.deps.jobs.read(this.current.record.id);
        if (!reread || !this.stillOurs(reread.record)) {
          this.lostTo = reread?.record ?? this.current.record;
          return;
        }
        this.current = reread;
      }
    } catch {
      // Best-effort: the next due beat tries again; the lease's expiry and the fencing decide.
    }
  }

  private stillOurs(job: JobRecord): boolean {
    const lease = job.lease;
    return !isTerminal(job.status) && job.slice === this.lease.slice && lease !== null && lease.slice === this.lease.slice && lease.attempt === this.lease.attempt;
  }
}
