/**
 * functions/sweep.ts in this process: it dispatches a dead slice again (in-process, so the job
 * finishes here) and keeps retrying webhook deliveries after a job's last slice, with backoff and
 * a stable webhook-id, against a real receiver on 127.0.0.1 checked with `standardwebhooks`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { runSliceFunction } from "../../functions/run-slice.js";
import { runSweepFunction } from "../../functions/sweep.js";
import { FsStore } from "../../src/ports/store/index.js";
import { JobStore, newJobRecord } from "../../src/services/jobs/index.js";
import { WebhookOutbox, WebhookSecretStore } from "../../src/services/webhooks/index.js";
import { syntheticConfig } from "../services/slices/harness.js";
import { Receiver } from "../support/webhook-receiver.js";

const root = mkdtempSync(join(tmpdir(), "sweep-fn-"));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

class FakeClock {
  constructor(public t: number) {}
  now = () => this.t;
  sleep = async () => {};
}

function newStore() {
  const dir = join(root, String(dirs++));
  return { dir, store: new FsStore({ root: dir, fsync: false }) };
}

describe("runSweepFunction", () => {
  it("dispatches a slice whose lease expired again and runs the job to its end in this process", async () => {
    const { dir, store } = newStore();
    const jobs = new JobStore(store);
    const created = await jobs.create(newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: syntheticConfig(), now: new Date(Date.now() - 3_600_000) }));
    // A slice that took its lease an hour ago and died.
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    await jobs.advance(created, { ...created.record, status: "running", startedAt: longAgo, lease: { slice: 0, attempt: "dead", startedAt: longAgo, expiresAt: longAgo } });

    const lines: string[] = [];
    const code = await runSweepFunction([], { DVAR_STORE_DIR: dir, DVAR_SLICE_MAX_STEPS: "5" }, { log: (l) => lines.push(l) });
    expect(code, lines.join("\n")).toBe(0);
    expect((await jobs.read("job1"))!.record).toMatchObject({ status: "succeeded", step: 12, slice: 3, lease: null });
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.event === "sweep_done")).toEqual({ event: "sweep_done", checked: 1, redispatched: [{ jobId: "job1", slice: 0, duplicate: false }], failed: [], cleared: 0, errors: 0 });
    expect(events.filter((e) => e.event === "slice_done").map((e) => [e.slice, e.result])).toEqual([
      [0, "advanced"],
      [1, "advanced"],
      [2, "advanced"],
    ]);
    // The next pass finds the job finished and forgets it.
    lines.length = 0;
    expect(await runSweepFunction([], { DVAR_STORE_DIR: dir }, { log: (l) => lines.push(l) })).toBe(0);
    expect(lines.map((l) => JSON.parse(l)).find((e) => e.event === "sweep_done")).toMatchObject({ checked: 1, redispatched: [], cleared: 1 });
  });

  it("retries a failed webhook of the job's last slice until the receiver accepts, with one webhook-id", async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      receiver.failures = 2;
      const { dir, store } = newStore();
      await new JobStore(store).create(
        newJobRecord({ id: "job1", tenantId: "t1", keyId: "k1", config: syntheticConfig(), webhook: { url: receiver.url, events: ["inversion.succeeded"] }, now: new Date() }),
      );
      const env = { DVAR_STORE_DIR: dir, DVAR_ALLOW_PRIVATE_WEBHOOKS: "true" };
      // The whole job in one slice function; its one delivery attempt fails.
      expect(await runSliceFunction(["--job", "job1", "--slice", "0"], env, { log: () => {} })).toBe(0);
      expect(receiver.received.map((r) => r.answered)).toEqual([503]);

      // No slice runs any more: only sweeps, every second of a fake clock, deliver from now on.
      const outbox = new WebhookOutbox(store);
      const clock = new FakeClock(Date.now());
      const attemptTimes: number[] = [Date.parse((await outbox.read("job1", "inversion.succeeded"))!.record.attempts[0]!.at)];
      for (let sweeps = 0; receiver.received.length < 3 && sweeps < 60; sweeps++) {
        const before = receiver.received.length;
        expect(await runSweepFunction([], env, { clock, log: () => {} })).toBe(0);
        if (receiver.received.length > before) attemptTimes.push(clock.t);
        clock.t += 1_000;
      }
      expect(receiver.received.map((r) => r.answered)).toEqual([503, 503, 204]);
      // Exponential backoff with jitter (5 s x 4^n, shortened by up to half), to the second of the sweeps.
      const gaps = attemptTimes.slice(1).map((t, i) => t - attemptTimes[i]!);
      expect(gaps[0]).toBeGreaterThanOrEqual(2_500);
      expect(gaps[0]).toBeLessThanOrEqual(6_000);
      expect(gaps[1]).toBeGreaterThanOrEqual(10_000);
      expect(gaps[1]).toBeLessThanOrEqual(21_000);

      const [secret] = await new WebhookSecretStore({ store }).activeSecrets("t1");
      const verified = receiver.received.map((r) => new Webhook(secret!).verify(r.body, r.headers) as { type: string; data: { id: string; status: string } });
      expect(verified.map((m) => [m.type, m.data.id, m.data.status])).toEqual(Array(3).fill(["inversion.succeeded", "job1", "succeeded"]));
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
      expect(new Set(receiver.received.map((r) => r.headers["webhook-timestamp"])).size).toBeGreaterThan(1);
      expect((await outbox.read("job1", "inversion.succeeded"))!.record).toMatchObject({ status: "delivered", attempts: [{ status: 503 }, { status: 503 }, { status: 204 }] });
      // Delivered: later sweeps send nothing more.
      clock.t += 3_600_000;
      await runSweepFunction([], env, { clock, log: () => {} });
      expect(receiver.received).toHaveLength(3);
    } finally {
      await receiver.close();
    }
  });

  it("exits 2 on arguments or bad configuration", async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    expect(await runSweepFunction(["--job", "x"], {}, { log })).toBe(2);
    expect(lines.pop()).toMatch(/takes no arguments/);
    expect(await runSweepFunction([], { DVAR_SWEEP_MAX_REDISPATCHES: "-1" }, { log })).toBe(2);
    expect(lines.pop()).toMatch(/DVAR_SWEEP_MAX_REDISPATCHES/);
    expect(await runSweepFunction([], { DVAR_SLICE_LEASE_GRACE_MS: "soon" }, { log })).toBe(2);
    expect(lines.pop()).toMatch(/DVAR_SLICE_LEASE_GRACE_MS/);
  });
});
