/**
 * Rolling deploys: a job record carrying fields this release does not know (written by a newer
 * one, at the top level and inside the lease) goes through the claim, heartbeat renewals, the
 * advance and the recovery sweep, and every write keeps those fields byte for byte in the stored
 * JSON (docs/STORE.md, "Compatibility").
 */
import { describe, expect, it } from "vitest";
import { parseExact, stringifyExact } from "../../../src/core/io/exact-json.js";
import { MemoryStore, PreconditionFailedError, type Store } from "../../../src/ports/store/index.js";
import { JobStore, jobRecordKey, newJobRecord } from "../../../src/services/jobs/index.js";
import { JobSweeper } from "../../../src/services/recovery/index.js";
import { StoreSliceService } from "../../../src/services/slices/index.js";
import { FakeClock, ObservedStore, RecordingDispatcher, RecordingEvents, syntheticConfig, timedObjectives } from "../slices/harness.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const S = 1000;
const MIN = 60 * S;
const iso = (t: number) => new Date(t).toISOString();
const ID = "job1";

/** What a newer release wrote; stored canonically (sorted keys), so its text is fixed. */
const FUTURE = { x: 1 };
const FUTURE_TEXT = '"futureField":{"x":1}';


const decode = (body: Uint8Array) => new TextDecoder().decode(body);
const occurrences = (text: string, fragment: string) => text.split(fragment).length - 1;

async function recordText(store: Store): Promise<string> {
  return decode((await store.get(jobRecordKey(ID)))!.body);
}

/** Rewrites the stored record with `edit` applied to its JSON, as a process of a newer release would (If-Match, retried on a lost race). */
async function writeAsNewerRelease(store: Store, edit: (record: Record<string, any>) => void): Promise<void> {
  for (;;) {
    const found = (await store.get(jobRecordKey(ID)))!;
    const record = parseExact(decode(found.body)) as Record<string, any>;
    edit(record);
    try {
      await store.put(jobRecordKey(ID), new TextEncoder().encode(stringifyExact(record)), { ifMatch: found.etag, contentType: "application/json" });
      return;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
}

async function createJob(store: Store): Promise<void> {
  await new JobStore(store).create(newJobRecord({ id: ID, tenantId: "tenant1", keyId: "key1", config: syntheticConfig(), now: new Date(T0) }));
}


describe("job records from a newer release", () => {
  it("keep unknown fields through the claim, heartbeat renewals and the advance", async () => {
    const store = new ObservedStore(new MemoryStore());
    const clock = new FakeClock(T0);
    await createJob(store.inner);
    await writeAsNewerRelease(store.inner, (record) => (record.futureField = FUTURE));

    // Every record write of the slice, as stored.
    const written: string[] = [];
    store.afterPut = async (key) => {
      if (key === jobRecordKey(ID)) written.push(await recordText(store.inner));
    };
    // Inside step 2, a newer release's process adds a field to the running slice's lease.
    const during = async (step: number) => {
      if (step === 2) await writeAsNewerRelease(store.inner, (record) => (record.lease.futureField = FUTURE));
    };
    const svc = new StoreSliceService({
      store,
      dispatcher: new RecordingDispatcher(),
      objectives: timedObjectives(clock, 30 * S, during),
      budget: { maxSteps: 5, maxWallMs: 60 * MIN },
      device: "cpu",
      events: new RecordingEvents(),
      clock,
      monotonic: () => 0,
      leaseGraceMs: 5 * MIN,
      leaseTtlMs: MIN,
    });
    const result = await svc.run({ jobId: ID, slice: 0 });
    expect(result.kind).toBe("advanced");

    const records = written.map((text) => ({ text, record: JSON.parse(text) as Record<string, any> }));
    const claim = records[0]!;
    expect(claim.record.lease).toMatchObject({ slice: 0, ttlMs: MIN });
    expect(claim.record.lease.renewedAt).toBeUndefined();
    const renewals = records.filter((r) => r.record.lease?.renewedAt !== undefined);
    const renewalsAfterNewer = renewals.filter((r) => r.record.lease.futureField !== undefined);
    expect(renewals.length).toBeGreaterThan(renewalsAfterNewer.length); // renewed before the newer write, too
    expect(renewalsAfterNewer.length).toBeGreaterThan(0);
    const final = records.at(-1)!;
    expect(final.record).toMatchObject({ status: "running", slice: 1, step: 5, lease: null });

    // Top level: in every write. Inside the lease: in every renewal after the newer write.
    for (const { text, record } of records) {
      const inLease = record.lease?.futureField !== undefined ? 1 : 0;
      expect(occurrences(text, FUTURE_TEXT), text).toBe(1 + inLease);
      expect(record.futureField).toEqual(FUTURE);
    }
    for (const { text } of renewalsAfterNewer) expect(text).toContain(`"lease":{"attempt":`);
    expect(await recordText(store.inner)).toBe(final.text);
  });

  it("keep unknown fields through the sweep: a live lease is left alone, a dead slice's redispatch and the final failure keep them", async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(T0);
    const dispatcher = new RecordingDispatcher();
    const sweeper = new JobSweeper({ store, dispatcher, clock, policy: { startTimeoutMs: 10 * MIN, maxRedispatches: 1, initialDelayMs: MIN, multiplier: 4 } });
    await createJob(store);
    // A newer release's slice holds the lease (with the heartbeat's fields and one this release does not know).
    await writeAsNewerRelease(store, (record) => {
      record.status = "running";
      record.startedAt = iso(T0);
      record.futureField = FUTURE;
      record.lease = { slice: 0, attempt: "att_newer", startedAt: iso(T0), expiresAt: iso(T0 + 2 * MIN), ttlMs: MIN, renewedAt: iso(T0 + MIN), futureField: FUTURE };
    });
    const before = await recordText(store);
    expect(occurrences(before, FUTURE_TEXT)).toBe(2);

    clock.t = T0 + MIN + 1;
    const live = await sweeper.sweep();
    expect(live.errors).toEqual([]);
    expect(live.redispatched).toEqual([]);
    expect(await recordText(store)).toBe(before);

    clock.t = T0 + 3 * MIN;
    const dead = await sweeper.sweep();
    expect(dead.errors).toEqual([]);
    expect(dead.redispatched).toEqual([{ jobId: ID, slice: 0, duplicate: false }]);
    const redispatched = await recordText(store);
    expect(JSON.parse(redispatched)).toMatchObject({ lease: null, redispatch: { slice: 0, count: 1 }, futureField: FUTURE });
    expect(occurrences(redispatched, FUTURE_TEXT)).toBe(1);

    // The redispatched slice never starts: after the start timeout the job fails.
    clock.t = T0 + 3 * MIN + 60 * MIN;
    const exhausted = await sweeper.sweep();
    expect(exhausted.errors).toEqual([]);
    expect(exhausted.failed).toEqual([ID]);
    const failed = await recordText(store);
    expect(JSON.parse(failed)).toMatchObject({ status: "failed", error: { code: "slice_retries_exhausted" }, futureField: FUTURE });
    expect(occurrences(failed, FUTURE_TEXT)).toBe(1);
  });
});
