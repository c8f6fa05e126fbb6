/**
 * The in-process delivery loop of the embedded server: runs a worker pass, then sleeps until
 * the earliest pending delivery is due (at most `idleMs`, so deliveries enqueued by other
 * processes sharing the store are found too). `kick()` runs a pass at once (an event was just
 * enqueued). Timers are injected so tests can drive the loop.
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import { realTimer, type ScheduleFn } from "../../ports/timer.js";
import type { DeliveryPassResult } from "./delivery-worker.js";

export interface DeliveryLoopOptions {
  readonly worker: { deliverDue(): Promise<DeliveryPassResult> };
  readonly clock?: Clock;
  readonly schedule?: ScheduleFn;
  /** Longest sleep between passes (default 30 s). */
  readonly idleMs?: number;
  readonly onError?: (error: unknown) => void;
}

export interface DeliveryLoop {
  kick(): void;
  /** Stops scheduling and waits for a pass in progress. */
  close(): Promise<void>;
}

export function startDeliveryLoop(options: DeliveryLoopOptions): DeliveryLoop {
  const clock = options.clock ?? systemClock;
  const schedule = options.schedule ?? realTimer;
  const idleMs = options.idleMs ?? 30_000;
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const pass = async (): Promise<void> => {
    let wait = idleMs;
    try {
      const { nextDueAt } = await options.worker.deliverDue();
      if (nextDueAt !== undefined) wait = Math.max(0, Math.min(idleMs, nextDueAt - clock.now()));
    } catch (error) {
      options.onError?.(error);
    }
    running = undefined;
    if (closed) return;
    if (again) {
      again = false;
      wait = 0;
    }
    cancel = schedule(start, wait);
  };
  function start(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    cancel?.();
    cancel = undefined;
    running = pass();
  }

  start();
  return {
    kick: start,
    async close() {
      closed = true;
      cancel?.();
      await running;
    },
  };
}
