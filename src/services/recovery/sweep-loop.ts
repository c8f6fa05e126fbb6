/**
 * The embedded server's recovery loop: a sweep pass every `intervalMs` (sooner when a waiting
 * job falls due earlier), one pass at a time. When an upload sweeper is given, a pass then
 * deletes expired uploads too, at most once per `uploadIntervalMs` (the first pass always): it
 * lists every upload in the store, and uploads expire in days, not minutes. Timers are injected
 * so tests can drive it.
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import { realTimer, type ScheduleFn } from "../../ports/timer.js";
import type { UploadSweepResult } from "../uploads/upload-sweeper.js";
import type { SweepResult } from "./job-sweeper.js";

/** How often the loop sweeps uploads by default (DVAR_UPLOAD_SWEEP_INTERVAL_MS). */
export const DEFAULT_UPLOAD_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

export interface SweepLoopOptions {
  readonly sweeper: { sweep(): Promise<SweepResult> };
  /** Run after the job sweep, in the first pass and then once per `uploadIntervalMs` (its own errors go to onError too). */
  readonly uploads?: { sweep(): Promise<UploadSweepResult> };
  readonly intervalMs: number;
  /** Least time between upload sweeps (default an hour); 0: every pass. */
  readonly uploadIntervalMs?: number;
  readonly clock?: Clock;
  readonly schedule?: ScheduleFn;
  /** Told about each pass that did something or met errors. */
  readonly onPass?: (result: SweepResult) => void;
  /** Told about each upload sweep that deleted something (kept uploads would repeat every pass). */
  readonly onUploads?: (result: UploadSweepResult) => void;
  readonly onError?: (error: unknown) => void;
}

export interface SweepLoop {
  /** Stops scheduling and waits for a pass in progress. */
  close(): Promise<void>;
}

export function startSweepLoop(options: SweepLoopOptions): SweepLoop {
  const clock = options.clock ?? systemClock;
  const schedule = options.schedule ?? realTimer;
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  const uploadIntervalMs = options.uploadIntervalMs ?? DEFAULT_UPLOAD_SWEEP_INTERVAL_MS;
  let uploadsSweptAt: number | undefined;

  const pass = async (): Promise<void> => {
    let wait = options.intervalMs;
    try {
      const result = await options.sweeper.sweep();
      if (result.redispatched.length > 0 || result.failed.length > 0 || result.errors.length > 0) options.onPass?.(result);
      if (result.nextDueAt !== undefined) wait = Math.max(0, Math.min(wait, result.nextDueAt - clock.now()));
    } catch (error) {
      options.onError?.(error);
    }
    const now = clock.now();
    if (options.uploads && (uploadsSweptAt === undefined || now - uploadsSweptAt >= uploadIntervalMs || now < uploadsSweptAt)) {
      // Counted from the attempt: a failed sweep waits for the next interval too.
      uploadsSweptAt = now;
      try {
        const result = await options.uploads.sweep();
        if (result.deleted.length > 0) options.onUploads?.(result);
      } catch (error) {
        options.onError?.(error);
      }
    }
    running = undefined;
    if (!closed) cancel = schedule(start, wait);
  };
  function start(): void {
    if (closed || running) return;
    running = pass();
  }

  start();
  return {
    async close() {
      closed = true;
      cancel?.();
      await running;
    },
  };
}
