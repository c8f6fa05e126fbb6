/**
 * The budget's running usage summary equals the full scan of the ledger (UsageLedger.summarize)
 * after any sequence of appends, retried appends, generations, other keys' records, summary writes
 * that die, readers racing each other and appends, unreadable summaries, deleted records and a job
 * id that is an Object.prototype name. Every sequence is drawn from the project's seeded
 * counter-based RNG.
 */
import { describe, expect, it } from "vitest";
import { uniforms } from "../../../src/core/rng/stream.js";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { keyUsageSummaryKey, keyUsageTotals, UsageLedger, usageStoreKey, type UsageRecord, type UsageTotals } from "../../../src/services/usage/index.js";

const TENANT = "acme";
const KEY = "key_a";

/** A store whose summary writes can be made to fail (the reader died before writing it), counting reads. */
class TestStore implements Store {
  readonly inner = new MemoryStore();
  failSummaryPut = false;
  gets = 0;
  lists = 0;
  get(key: string) {
    this.gets += 1;
    return this.inner.get(key);
  }
  put(key: string, body: Uint8Array, options?: Parameters<Store["put"]>[2]) {
    if (this.failSummaryPut && key.startsWith("usage-totals/")) return Promise.reject(new Error("crashed before the summary write"));
    return this.inner.put(key, body, options);
  }
  copy(from: string, to: string, options: Parameters<Store["copy"]>[2]) {
    return this.inner.copy(from, to, options);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  list(prefix: string, options?: Parameters<Store["list"]>[1]) {
    this.lists += 1;
    return this.inner.list(prefix, options);
  }
}

function totalsOf(summary: UsageTotals): UsageTotals {
  return { slices: summary.slices, generations: summary.generations, steps: summary.steps, seconds: summary.seconds };
}

async function fullScan(store: Store): Promise<UsageTotals> {
  return totalsOf(await new UsageLedger(store, 7).summarize({ tenantId: TENANT, keyId: KEY }));
}

/** The (job/slice) records the stored summary says it has counted, sorted like the listing. */
async function summaryNames(store: TestStore): Promise<string[]> {
  const found = await store.inner.get(keyUsageSummaryKey(TENANT, KEY));
  const summary = JSON.parse(new TextDecoder().decode(found!.body)) as { records: number; counted: Record<string, Array<[number, number]>> };
  const names: string[] = [];
  for (const [job, ranges] of Object.entries(summary.counted)) for (const [from, to] of ranges) for (let s = from; s <= to; s++) names.push(`${job}/${String(s).padStart(6, "0")}`);
  expect(names).toHaveLength(summary.records);
  return names.sort();
}

/** One random history of `ops` operations; `dyadic`: seconds on a 1/1024 grid, so every sum is exact. */
async function runTrial(trial: number, ops: number, dyadic: boolean): Promise<{ reads: number; crashes: number; races: number }> {
  const draws = uniforms({ seed: 20260301, stream: 1000 + (dyadic ? 0 : 1), step: trial }, ops * 12);
  let d = 0;
  const u = () => draws[d++]!;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(u() * xs.length)]!;
  const store = new TestStore();
  const ledger = new UsageLedger(store);
  const nextSlice = new Map<string, number>();
  let reads = 0, crashes = 0, races = 0;

  const randomRecord = (): UsageRecord => {
    const generation = u() < 0.15;
    const jobId = generation ? `gen_${Math.floor(u() * 6)}` : pick(["inv_a", "inv_b", "inv_c", "inv_d", "__proto__"]);
    // Mostly the job's next slice; sometimes an earlier one (a retry) or one further on (out of order).
    const next = nextSlice.get(jobId) ?? 0;
    const r = u();
    const slice = generation ? 0 : r < 0.7 ? next : r < 0.85 ? Math.floor(u() * (next + 1)) : next + 1 + Math.floor(u() * 3);
    if (!generation) nextSlice.set(jobId, Math.max(next, slice + 1));
    const seconds = dyadic ? Math.floor(u() * 100 * 1024) / 1024 : u() * 100;
    return {
      ...(generation ? { kind: "generation" as const } : {}),
      tenantId: TENANT,
      keyId: u() < 0.2 ? "key_b" : KEY,
      jobId,
      slice,
      steps: Math.floor(u() * 50),
      device: pick(["cpu", "nvidia-h100"]),
      seconds,
      recordedAt: "2026-03-01T10:00:00.000Z",
    };
  };

  const expectEqual = (got: UsageTotals, want: UsageTotals) => {
    expect({ ...got, seconds: 0 }).toEqual({ ...want, seconds: 0 });
    if (dyadic) expect(got.seconds).toBe(want.seconds);
    else expect(Math.abs(got.seconds - want.seconds)).toBeLessThanOrEqual(1e-12 * Math.max(1, want.seconds));
  };

  for (let op = 0; op < ops; op++) {
    const r = u();
    if (r < 0.45) {
      await ledger.record(randomRecord());
    } else if (r < 0.6) {
      // An append, then the summary write of the read that follows dies: the next read repairs it.
      await ledger.record(randomRecord());
      // (A read with nothing new to count writes no summary, so it has nothing to die in.)
      store.failSummaryPut = true;
      const died = await keyUsageTotals(store, TENANT, KEY).then(() => undefined, (error: unknown) => error);
      store.failSummaryPut = false;
      if (died !== undefined) {
        expect(String(died)).toContain("crashed before the summary write");
        crashes += 1;
      }
    } else if (r < 0.75) {
      // Two readers and an append at once: each read counts at least every record committed
      // before it started and at most those committed by the end; one summary write may lose.
      const before = await fullScan(store);
      const [a, , b] = await Promise.all([keyUsageTotals(store, TENANT, KEY), ledger.record(randomRecord()), keyUsageTotals(store, TENANT, KEY)]);
      const after = await fullScan(store);
      for (const got of [a, b]) {
        expect(got.slices + got.generations).toBeGreaterThanOrEqual(before.slices + before.generations);
        expect(got.seconds).toBeGreaterThanOrEqual(before.seconds - 1e-9);
        expect(got.slices + got.generations).toBeLessThanOrEqual(after.slices + after.generations);
      }
      races += 1;
    } else if (r < 0.8) {
      // A summary nobody can read is ignored (and replaced).
      if (u() < 0.5) await store.inner.put(keyUsageSummaryKey(TENANT, KEY), new TextEncoder().encode("{not json"));
      else {
        // A record removed behind the summary's back: it is counted no more.
        const listed = (await store.inner.list(`usage/${TENANT}/${KEY}/`)).entries;
        if (listed.length > 0) await store.inner.delete(pick(listed).key);
      }
    }
    const got = await keyUsageTotals(store, TENANT, KEY);
    reads += 1;
    expectEqual(got, await fullScan(store));
    // And the summary it left names exactly the key's records, each once.
    expect(await summaryNames(store)).toEqual((await store.inner.list(`usage/${TENANT}/${KEY}/`)).entries.map((e) => e.key.slice(`usage/${TENANT}/${KEY}/`.length)).sort());
  }
  return { reads, crashes, races };
}

describe("keyUsageTotals", () => {
  it("equals the full scan after every operation of 40 random histories (exact sums)", async () => {
    let crashes = 0, races = 0;
    for (let trial = 0; trial < 40; trial++) {
      const stats = await runTrial(trial, 60, true);
      crashes += stats.crashes;
      races += stats.races;
    }
    // The histories did exercise the crash and the race.
    expect(crashes).toBeGreaterThan(100);
    expect(races).toBeGreaterThan(100);
  });

  it("equals the full scan to rounding with arbitrary seconds (the order of additions differs)", async () => {
    for (let trial = 0; trial < 10; trial++) await runTrial(trial, 60, false);
  });

  it("reads only the summary and the records it has not counted, after one listing", async () => {
    const store = new TestStore();
    const ledger = new UsageLedger(store);
    const record = (jobId: string, slice: number): UsageRecord => ({ tenantId: TENANT, keyId: KEY, jobId, slice, steps: 10, device: "cpu", seconds: 1.5, recordedAt: "2026-03-01T10:00:00.000Z" });
    for (let slice = 0; slice < 200; slice++) await ledger.record(record(`inv_${slice % 7}`, Math.floor(slice / 7)));
    expect((await keyUsageTotals(store, TENANT, KEY)).slices).toBe(200);
    store.gets = 0;
    store.lists = 0;
    await ledger.record(record("inv_0", 99));
    store.gets = 0;
    expect(await keyUsageTotals(store, TENANT, KEY)).toEqual({ slices: 201, generations: 0, steps: 2010, seconds: 301.5 });
    expect({ gets: store.gets, lists: store.lists }).toEqual({ gets: 2, lists: 1 });
    // Nothing new: the summary alone.
    store.gets = 0;
    await keyUsageTotals(store, TENANT, KEY);
    expect(store.gets).toBe(1);
    // The summary lives outside the records' prefix, so the ledger's own listings never see it.
    expect(keyUsageSummaryKey(TENANT, KEY).startsWith(`usage/`)).toBe(false);
    expect(usageStoreKey(record("inv_0", 0)).startsWith("usage/")).toBe(true);
  });

  it("keeps fields a newer release added to the summary when it grows, and drops them when it is rebuilt", async () => {
    const store = new TestStore();
    const ledger = new UsageLedger(store);
    const record = (slice: number): UsageRecord => ({ tenantId: TENANT, keyId: KEY, jobId: "inv_a", slice, steps: 10, device: "cpu", seconds: 1.5, recordedAt: "2026-03-01T10:00:00.000Z" });
    const summaryKey = keyUsageSummaryKey(TENANT, KEY);
    const summaryText = async () => new TextDecoder().decode((await store.inner.get(summaryKey))!.body);
    await ledger.record(record(0));
    await keyUsageTotals(store, TENANT, KEY);
    const written = JSON.parse(await summaryText()) as Record<string, unknown>;
    await store.inner.put(summaryKey, new TextEncoder().encode(JSON.stringify({ ...written, futureField: { x: 1 } })));

    await ledger.record(record(1));
    expect(await keyUsageTotals(store, TENANT, KEY)).toEqual({ slices: 2, generations: 0, steps: 20, seconds: 3 });
    const grown = await summaryText();
    expect(grown).toContain('"futureField":{"x":1}');
    expect(JSON.parse(grown)).toMatchObject({ version: 1, records: 2, counted: { inv_a: [[0, 1]] } });

    // A counted record gone: the summary no longer describes the ledger and is counted afresh.
    await store.inner.delete(usageStoreKey(record(0)));
    expect(await keyUsageTotals(store, TENANT, KEY)).toEqual({ slices: 1, generations: 0, steps: 10, seconds: 1.5 });
    expect(await summaryText()).not.toContain("futureField");
  });
});
