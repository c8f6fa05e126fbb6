import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FsStore, MemoryStore } from "../../../src/ports/store/index.js";
import { InvalidUsageRecordError, UsageLedger, type UsageRecord } from "../../../src/services/usage/index.js";

const root = mkdtempSync(join(tmpdir(), "usage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const slice = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  tenantId: "acme",
  keyId: "key_a",
  jobId: "job_1",
  slice: 0,
  steps: 100,
  device: "nvidia-h100",
  seconds: 52.5,
  recordedAt: "2026-03-01T10:00:00.000Z",
  ...over,
});

describe("UsageLedger", () => {
  it("bills a retried slice once: the first record wins", async () => {
    const ledger = new UsageLedger(new MemoryStore());
    expect(await ledger.record(slice())).toEqual({ billed: true, record: slice() });
    const retry = await ledger.record(slice({ seconds: 60, steps: 100 }));
    expect(retry).toEqual({ billed: false, record: slice() });
    const summary = await ledger.summarize({ tenantId: "acme" });
    expect(summary).toMatchObject({ slices: 1, steps: 100, seconds: 52.5, jobs: 1 });
  });

  it("bills exactly one of several concurrent writers of one slice (filesystem store)", async () => {
    const ledger = new UsageLedger(new FsStore({ root: join(root, "race"), fsync: false }));
    const results = await Promise.all([1, 2, 3, 4, 5].map((s) => ledger.record(slice({ seconds: s }))));
    expect(results.filter((r) => r.billed)).toHaveLength(1);
    const billed = results.find((r) => r.billed)!.record;
    expect(results.every((r) => r.record.seconds === billed.seconds)).toBe(true);
    expect((await ledger.summarize({ tenantId: "acme" })).seconds).toBe(billed.seconds);
  });

  it("aggregates per key, per device and per tenant across pages, within a time window", async () => {
    const ledger = new UsageLedger(new MemoryStore(), 2);
    await ledger.record(slice({ slice: 0, steps: 10, seconds: 1 }));
    await ledger.record(slice({ slice: 1, steps: 20, seconds: 2 }));
    await ledger.record(slice({ jobId: "job_2", slice: 0, steps: 30, seconds: 4, device: "cpu" }));
    await ledger.record(slice({ keyId: "key_b", jobId: "job_3", steps: 40, seconds: 8 }));
    await ledger.record(slice({ keyId: "key_b", jobId: "job_4", steps: 50, seconds: 16, recordedAt: "2026-04-01T00:00:00Z" }));
    await ledger.record(slice({ tenantId: "globex", steps: 999, seconds: 999 }));

    const keyA = await ledger.summarize({ tenantId: "acme", keyId: "key_a" });
    expect(keyA).toEqual({
      slices: 3,
      generations: 0,
      steps: 60,
      seconds: 7,
      jobs: 2,
      byDevice: { "nvidia-h100": { slices: 2, generations: 0, steps: 30, seconds: 3 }, cpu: { slices: 1, generations: 0, steps: 30, seconds: 4 } },
      byKey: { key_a: { slices: 3, generations: 0, steps: 60, seconds: 7 } },
    });
    const tenant = await ledger.summarize({ tenantId: "acme" });
    expect(tenant).toMatchObject({ slices: 5, steps: 150, seconds: 31, jobs: 4 });
    expect(tenant.byKey.key_b).toEqual({ slices: 2, generations: 0, steps: 90, seconds: 24 });
    const march = await ledger.summarize({
      tenantId: "acme",
      from: new Date("2026-03-01T00:00:00Z"),
      to: new Date("2026-04-01T00:00:00Z"),
    });
    expect(march).toMatchObject({ slices: 4, steps: 100, seconds: 15 });
  });

  it("counts generation records as generations, not slices or jobs, and sums their steps and seconds", async () => {
    const ledger = new UsageLedger(new MemoryStore());
    await ledger.record(slice({ steps: 10, seconds: 1 }));
    await ledger.record(slice({ kind: "slice", slice: 1, steps: 10, seconds: 1 }));
    const generation = slice({ kind: "generation", jobId: "gen_1", steps: 4 * 25, seconds: 2, device: "cpu" });
    expect((await ledger.record(generation)).billed).toBe(true);
    expect((await ledger.record({ ...generation, seconds: 9 })).billed).toBe(false);
    const summary = await ledger.summarize({ tenantId: "acme" });
    expect(summary).toMatchObject({ slices: 2, generations: 1, jobs: 1, steps: 120, seconds: 4 });
    expect(summary.byDevice.cpu).toEqual({ slices: 0, generations: 1, steps: 100, seconds: 2 });
    await expect(ledger.record(slice({ kind: "bogus" as never, jobId: "gen_2" }))).rejects.toThrow(/kind must be one of slice, generation/);
  });

  it("rejects malformed records before writing anything", async () => {
    const store = new MemoryStore();
    const ledger = new UsageLedger(store);
    const bad: Partial<UsageRecord>[] = [
      { slice: -1 },
      { slice: 1.5 },
      { steps: -3 },
      { seconds: Number.NaN },
      { seconds: -1 },
      { device: "GPU H100" },
      { jobId: "../x" },
      { tenantId: "" },
      { recordedAt: "yesterday" },
    ];
    for (const over of bad) {
      await expect(ledger.record(slice(over)), JSON.stringify(over)).rejects.toBeInstanceOf(InvalidUsageRecordError);
    }
    expect((await store.list("")).entries).toEqual([]);
  });
});
