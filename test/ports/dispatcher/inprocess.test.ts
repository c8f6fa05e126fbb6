import { describe, expect, it } from "vitest";
import { DispatcherClosedError, InProcessDispatcher, type SliceInvocation } from "../../../src/ports/dispatcher/index.js";

/** A promise with its resolve exposed, to hold a slice "running" until the test lets it finish. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("InProcessDispatcher", () => {
  it("runs slices in dispatch order, one at a time by default", async () => {
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const d = new InProcessDispatcher({
      runSlice: async ({ jobId, slice }) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${jobId}/${slice}`);
        await new Promise((r) => setTimeout(r, 2));
        log.push(`end ${jobId}/${slice}`);
        running--;
      },
    });
    await d.dispatch({ jobId: "a", slice: 0 });
    await d.dispatch({ jobId: "b", slice: 0 });
    await d.dispatch({ jobId: "a", slice: 1 });
    await d.drain();
    expect(maxRunning).toBe(1);
    expect(log).toEqual(["start a/0", "end a/0", "start b/0", "end b/0", "start a/1", "end a/1"]);
  });

  it("runs up to `concurrency` slices at once and never more", async () => {
    const gates = [gate(), gate(), gate()];
    let running = 0;
    let maxRunning = 0;
    const started: number[] = [];
    const d = new InProcessDispatcher({
      concurrency: 2,
      runSlice: async ({ slice }) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        started.push(slice);
        await gates[slice]!.promise;
        running--;
      },
    });
    for (const slice of [0, 1, 2]) await d.dispatch({ jobId: `job${slice}`, slice });
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual([0, 1]);
    gates[0]!.open();
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.open();
    gates[2]!.open();
    await d.drain();
    expect(maxRunning).toBe(2);
  });

  it("deduplicates a (job, slice) that is queued or running, and accepts it again once done", async () => {
    const g = gate();
    const runs: string[] = [];
    const d = new InProcessDispatcher({
      runSlice: async ({ jobId, slice }) => {
        runs.push(`${jobId}/${slice}`);
        await g.promise;
      },
    });
    const first = await d.dispatch({ jobId: "j", slice: 0 });
    await new Promise((r) => setTimeout(r, 1)); // now running
    const whileRunning = await d.dispatch({ jobId: "j", slice: 0 });
    const queued = await d.dispatch({ jobId: "j", slice: 1 });
    const whileQueued = await d.dispatch({ jobId: "j", slice: 1 });
    expect([first.duplicate, whileRunning.duplicate, queued.duplicate, whileQueued.duplicate]).toEqual([false, true, false, true]);
    expect(d.size).toBe(2);
    g.open();
    await d.drain();
    expect(runs).toEqual(["j/0", "j/1"]);
    const again = await d.dispatch({ jobId: "j", slice: 0 });
    expect(again.duplicate).toBe(false);
    await d.drain();
    expect(runs).toEqual(["j/0", "j/1", "j/0"]);
  });

  it("reports a failing slice to onError and keeps going; a throwing reporter is contained too", async () => {
    const errors: Array<[SliceInvocation, string]> = [];
    const ran: number[] = [];
    const d = new InProcessDispatcher({
      runSlice: async ({ slice }) => {
        ran.push(slice);
        if (slice === 0) throw new Error("GPU lost");
        if (slice === 1) throw "not even an Error";
      },
      onError: (invocation, error) => {
        errors.push([invocation, error instanceof Error ? error.message : String(error)]);
        if (invocation.slice === 1) throw new Error("the reporter itself fails");
      },
    });
    for (const slice of [0, 1, 2]) await d.dispatch({ jobId: "j", slice });
    await d.drain();
    expect(ran).toEqual([0, 1, 2]);
    expect(errors).toEqual([
      [{ jobId: "j", slice: 0 }, "GPU lost"],
      [{ jobId: "j", slice: 1 }, "not even an Error"],
    ]);
  });

  it("drain waits for slices dispatched by running slices (a chain of slices)", async () => {
    const ran: number[] = [];
    const d: InProcessDispatcher = new InProcessDispatcher({
      runSlice: async ({ jobId, slice }) => {
        ran.push(slice);
        await new Promise((r) => setTimeout(r, 1));
        if (slice < 4) await d.dispatch({ jobId, slice: slice + 1 });
      },
    });
    await d.dispatch({ jobId: "chain", slice: 0 });
    await d.drain();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
    expect(d.size).toBe(0);
  });

  it("close refuses new work, lets queued work finish, and with interrupt aborts the slices' signal", async () => {
    const g = gate();
    const seen: boolean[] = [];
    const d = new InProcessDispatcher({
      runSlice: async (_inv, { signal }) => {
        await g.promise;
        seen.push(signal.aborted);
      },
    });
    await d.dispatch({ jobId: "j", slice: 0 });
    await d.dispatch({ jobId: "k", slice: 0 });
    const closing = d.close({ interrupt: true });
    await expect(d.dispatch({ jobId: "z", slice: 0 })).rejects.toBeInstanceOf(DispatcherClosedError);
    g.open();
    await closing;
    expect(seen).toEqual([true, true]);
  });

  it("refuses invalid invocations and settings with messages naming them", async () => {
    const d = new InProcessDispatcher({ runSlice: async () => {} });
    await expect(d.dispatch({ jobId: "", slice: 0 })).rejects.toThrow(/job id/);
    await expect(d.dispatch({ jobId: "a/b", slice: 0 })).rejects.toThrow(/job id/);
    await expect(d.dispatch({ jobId: "a", slice: 1.5 })).rejects.toThrow(/slice/);
    await expect(d.dispatch({ jobId: "a", slice: 0, extra: 1 } as never)).rejects.toThrow(/extra/);
    expect(() => new InProcessDispatcher({ runSlice: async () => {}, concurrency: 0 })).toThrow(/concurrency/);
  });
});
