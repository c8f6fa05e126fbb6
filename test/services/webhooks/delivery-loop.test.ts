import { describe, expect, it } from "vitest";
import type { ScheduleFn } from "../../../src/ports/timer.js";
import { startDeliveryLoop, type DeliveryPassResult } from "../../../src/services/webhooks/index.js";
import { FakeClock } from "./fake-clock.js";

/** A timer that only records what was scheduled; tests fire it by hand. */
function manualTimer() {
  const scheduled: Array<{ ms: number; run: () => void; canceled: boolean }> = [];
  const schedule: ScheduleFn = (run, ms) => {
    const entry = { ms, run, canceled: false };
    scheduled.push(entry);
    return () => (entry.canceled = true);
  };
  return { scheduled, schedule };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("startDeliveryLoop", () => {
  it("sleeps until the next delivery is due (at most idleMs), runs again on kick, and stops on close", async () => {
    const clock = new FakeClock(1000);
    const results: DeliveryPassResult[] = [{ attempted: 1, nextDueAt: 1250 }, { attempted: 0 }, { attempted: 0 }];
    let passes = 0;
    const timer = manualTimer();
    const loop = startDeliveryLoop({ worker: { deliverDue: async () => results[passes++]! }, clock, schedule: timer.schedule, idleMs: 5000 });
    await flush();
    expect(passes).toBe(1);
    expect(timer.scheduled.map((s) => s.ms)).toEqual([250]);
    timer.scheduled[0]!.run();
    await flush();
    expect(passes).toBe(2);
    expect(timer.scheduled.map((s) => s.ms)).toEqual([250, 5000]); // nothing pending: idle
    loop.kick(); // an event was enqueued: run now, cancel the idle sleep
    await flush();
    expect(passes).toBe(3);
    expect(timer.scheduled[1]!.canceled).toBe(true);
    await loop.close();
    expect(timer.scheduled.at(-1)!.canceled).toBe(true);
    loop.kick();
    await flush();
    expect(passes).toBe(3);
  });

  it("a kick during a pass runs one more pass right after it, and errors do not stop the loop", async () => {
    let release!: () => void;
    let passes = 0;
    const errors: unknown[] = [];
    const timer = manualTimer();
    const loop = startDeliveryLoop({
      worker: {
        deliverDue: async () => {
          passes++;
          if (passes === 1) await new Promise<void>((r) => (release = r));
          if (passes === 2) throw new Error("store down");
          return { attempted: 0 };
        },
      },
      schedule: timer.schedule,
      idleMs: 100,
      onError: (e) => errors.push(e),
    });
    loop.kick();
    loop.kick();
    release();
    await flush();
    expect(timer.scheduled.map((s) => s.ms)).toEqual([0]); // the kicks asked for one more pass
    timer.scheduled[0]!.run();
    await flush();
    expect(passes).toBe(2);
    expect(errors).toHaveLength(1);
    expect(timer.scheduled.map((s) => s.ms)).toEqual([0, 100]);
    await loop.close();
  });
});
