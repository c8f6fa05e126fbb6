/**
 * The embedded server's recovery loop: a job whose slice died with an earlier server process
 * (its lease expired) is dispatched again by the sweep at start-up and runs to its end; the loop
 * itself runs a pass at start and then every interval (or sooner when a job falls due).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FsStore } from "../../src/ports/store/index.js";
import { startEmbeddedServer } from "../../src/server/embedded.js";
import { JobStore, newJobRecord } from "../../src/services/jobs/index.js";
import { startSweepLoop, type SweepResult } from "../../src/services/recovery/index.js";
import { syntheticConfig } from "../services/slices/harness.js";

const root = mkdtempSync(join(tmpdir(), "server-recovery-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("embedded server recovery", () => {
  it("resumes a job whose slice died with the previous server process", async () => {
    const dir = join(root, "store");
    const jobs = new JobStore(new FsStore({ root: dir }));
    const created = await jobs.create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: syntheticConfig(), now: new Date(Date.now() - 3_600_000) }));
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    await jobs.advance(created, { ...created.record, status: "running", startedAt: longAgo, lease: { slice: 0, attempt: "old-server", startedAt: longAgo, expiresAt: longAgo } });

    const lines: string[] = [];
    const server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "5" }, log: (l) => lines.push(l) });
    try {
      await vi.waitFor(async () => expect((await jobs.read("job1"))!.record.status).toBe("succeeded"), { timeout: 60_000, interval: 100 });
      expect((await jobs.read("job1"))!.record).toMatchObject({ step: 12, slice: 3, lease: null });
      expect(lines.map((l) => JSON.parse(l)).find((e) => e.event === "sweep")).toMatchObject({ redispatched: [{ jobId: "job1", slice: 0, duplicate: false }] });
    } finally {
      await server.close();
    }
  });

  it("refuses a bad DVAR_SWEEP_* setting at start-up", async () => {
    await expect(startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: join(root, "bad"), DVAR_SWEEP_INTERVAL_MS: "often" }, log: () => {} })).rejects.toThrow(/DVAR_SWEEP_INTERVAL_MS/);
  });
});

/** A scheduler the test fires by hand: `passes(n)` runs the n passes after the first, a minute apart. */
function minutePasses(clock: { now: number }) {
  let pending: (() => void) | undefined;
  const schedule = (run: () => void) => {
    pending = run;
    return () => (pending = undefined);
  };
  const scheduled = async () => {
    while (!pending) await new Promise((r) => setImmediate(r));
  };
  const passes = async (n: number) => {
    for (let minute = 1; minute <= n; minute++) {
      // The pass has scheduled the next one: the clock moves on and it runs.
      await scheduled();
      const run = pending!;
      pending = undefined;
      clock.now += 60_000;
      run();
    }
    await scheduled();
  };
  return { schedule, passes };
}

const emptySweep: SweepResult = { checked: 0, redispatched: [], failed: [], cleared: 0, inputsDeleted: [], errors: [] };

describe("startSweepLoop", () => {
  it("sweeps jobs every pass and uploads once per upload interval (default an hour), the first at start", async () => {
    const clock = { now: 1_000_000 };
    const manual = minutePasses(clock);
    const swept: Array<["jobs" | "uploads", number]> = [];
    const loop = startSweepLoop({
      sweeper: { sweep: async () => (swept.push(["jobs", clock.now]), emptySweep) },
      uploads: { sweep: async () => (swept.push(["uploads", clock.now]), { deleted: [], kept: [] }) },
      intervalMs: 60_000,
      clock: { now: () => clock.now, sleep: async () => {} },
      schedule: manual.schedule,
    });
    await manual.passes(130); // passes at 0, 1, ..., 130 minutes
    await loop.close();
    const at = (what: string) => swept.filter(([w]) => w === what).map(([, t]) => (t - 1_000_000) / 60_000);
    expect(at("jobs")).toEqual(Array.from({ length: 131 }, (_, m) => m));
    expect(at("uploads")).toEqual([0, 60, 120]);
  });

  it("takes the upload interval from the options", async () => {
    const clock = { now: 0 };
    const manual = minutePasses(clock);
    let uploads = 0;
    let passes = 0;
    const loop = startSweepLoop({
      sweeper: { sweep: async () => (passes++, emptySweep) },
      uploads: { sweep: async () => (uploads++, { deleted: [], kept: [] }) },
      intervalMs: 60_000,
      uploadIntervalMs: 5 * 60_000,
      clock: { now: () => clock.now, sleep: async () => {} },
      schedule: manual.schedule,
    });
    await manual.passes(10);
    await loop.close();
    expect(passes).toBe(11);
    // At minutes 0, 5 and 10.
    expect(uploads).toBe(3);
  });


  it("sweeps at start, then after the interval or when a job falls due, one pass at a time; close stops it", async () => {
    let now = 1_000_000;
    const waits: number[] = [];
    let pending: (() => void) | undefined;
    const schedule = (run: () => void, ms: number) => {
      waits.push(ms);
      pending = run;
      return () => (pending = undefined);
    };
    const answers: Array<Partial<SweepResult>> = [{ nextDueAt: now + 5_000 }, {}, { nextDueAt: now + 999_999 }];
    let passes = 0;
    const empty: SweepResult = { checked: 0, redispatched: [], failed: [], cleared: 0, inputsDeleted: [], errors: [] };
    const loop = startSweepLoop({ sweeper: { sweep: async () => ({ ...empty, ...answers[passes++] }) }, intervalMs: 60_000, clock: { now: () => now, sleep: async () => {} }, schedule });
    await vi.waitFor(() => expect(waits).toHaveLength(1));
    expect(waits).toEqual([5_000]);
    now += 5_000;
    pending!();
    await vi.waitFor(() => expect(waits).toHaveLength(2));
    pending!();
    await vi.waitFor(() => expect(waits).toHaveLength(3));
    expect(waits).toEqual([5_000, 60_000, 60_000]);
    await loop.close();
    expect(pending).toBeUndefined();
    expect(passes).toBe(3);
  });
});
