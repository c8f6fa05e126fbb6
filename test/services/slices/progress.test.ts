import { describe, expect, it } from "vitest";
import { emptyHistory, type InversionHistory } from "../../../src/core/inversion/state.js";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { progressAhead } from "../../../src/services/inversions/job-view.js";
import { newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import { progressKey, ProgressPublisher, progressTail, readProgress } from "../../../src/services/slices/progress.js";

function history(n: number): InversionHistory {
  const h = emptyHistory();
  for (let i = 0; i < n; i++) {
    h.trainLoss.push(1 / (i + 1));
    h.ldet.push(i % 2 === 0 ? 0.5 + i : NaN);
    h.gradNorm.push(1);
    h.criterion.push(i < 3 ? NaN : i / 100);
    h.score.push(NaN);
    h.wallMs.push(1);
  }
  return h;
}

/** A store whose puts wait until released, counting them. */
function slowStore(inner: Store) {
  const waiting: Array<() => void> = [];
  let puts = 0;
  const store: Store = {
    get: (k) => inner.get(k),
    delete: (k) => inner.delete(k),
    list: (p, o) => inner.list(p, o),
    copy: (f, t, o) => inner.copy(f, t, o),
    put: async (k, b, o) => {
      puts++;
      await new Promise<void>((resolve) => waiting.push(resolve));
      return inner.put(k, b, o);
    },
  };
  return { store, waiting, puts: () => puts };
}

describe("progress between checkpoints", () => {
  it("publishes the rows since the slice's first step, one write at a time, coalescing updates, and waits for the write in flight on close", async () => {
    const inner = new MemoryStore();
    const slow = slowStore(inner);
    let t = 0;
    const publisher = new ProgressPublisher({ store: slow.store, jobId: "job1", slice: 2, fromStep: 10, monotonic: () => t, options: { everyMs: 100 } });
    const h = history(20);
    publisher.update(11, h); // not due: 0 ms
    expect(slow.puts()).toBe(0);
    t = 150;
    publisher.update(12, h); // due: write 1 starts and waits
    t = 300;
    publisher.update(13, h); // due while a write is in flight: kept as pending
    t = 450;
    publisher.update(14, h); // replaces the pending one
    expect(slow.puts()).toBe(1);
    slow.waiting.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(slow.puts()).toBe(2); // the latest (14), not 13
    const closing = publisher.close();
    slow.waiting.shift()!();
    await closing;
    const stored = (await readProgress(inner, "job1"))!;
    expect(stored).toMatchObject({ jobId: "job1", slice: 2, fromStep: 10, step: 14 });
    expect(stored.tail.trainLoss).toEqual([1 / 11, 1 / 12, 1 / 13, 1 / 14]);
    expect(stored.tail.ldet).toEqual([10.5, null, 12.5, null]);
    const tail = progressTail(stored);
    expect(tail.ldet[1]).toBeNaN();
    expect(tail.criterion).toEqual([0.1, 0.11, 0.12, 0.13]);
    // After close nothing more is written.
    t = 1000;
    expect(slow.puts()).toBe(2);
  });

  it("never fails the slice: store errors are swallowed", async () => {
    const failing: Store = { get: async () => undefined, delete: async () => {}, list: async () => ({ entries: [] }), put: async () => Promise.reject(new Error("S3 down")), copy: async () => Promise.reject(new Error("S3 down")) };
    const publisher = new ProgressPublisher({ store: failing, jobId: "job1", slice: 0, fromStep: 0, monotonic: () => 0, options: { everySteps: 1 } });
    publisher.update(1, history(1));
    await expect(publisher.close()).resolves.toBeUndefined();
  });

  it("is merged only while it extends the record: the running slice, from the record's step, ahead of it", async () => {
    const store = new MemoryStore();
    const record: JobRecord = { ...newJobRecord({ id: "job1", tenantId: "t", keyId: "k", config: { seed: 1, maxSteps: 50, objective: { kind: "synthetic" } }, now: new Date() }), status: "running", slice: 2, step: 10 };
    const publisher = new ProgressPublisher({ store, jobId: "job1", slice: 2, fromStep: 10, monotonic: () => 0, options: { everySteps: 1 } });
    publisher.update(13, history(13));
    await publisher.close();
    const progress = await readProgress(store, "job1");
    expect(progressAhead(record, progress)?.step).toBe(13);
    expect(progressAhead({ ...record, slice: 3, step: 13 }, progress)).toBeUndefined(); // the slice has since advanced the record
    expect(progressAhead({ ...record, status: "canceled" }, progress)).toBeUndefined();
    expect(progressAhead({ ...record, step: 13 }, progress)).toBeUndefined();
    expect(progressAhead({ ...record, id: "job2" }, progress)).toBeUndefined();
    // Malformed objects are no progress at all.
    await store.put(progressKey("job1"), new TextEncoder().encode("{not json"));
    expect(await readProgress(store, "job1")).toBeUndefined();
    await store.put(progressKey("job1"), new TextEncoder().encode(JSON.stringify({ ...progress, step: 99 })));
    expect(await readProgress(store, "job1")).toBeUndefined(); // the tail does not have 89 rows
  });
});
