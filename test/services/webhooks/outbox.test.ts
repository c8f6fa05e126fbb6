import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { MemoryStore } from "../../../src/ports/store/index.js";
import { newJobRecord, type JobRecord } from "../../../src/services/jobs/index.js";
import {
  deliveryKey,
  OutboxJobEventSink,
  pendingMarkerKey,
  WebhookDeliveryWorker,
  WebhookOutbox,
  WebhookSecretStore,
  webhookSecretKey,
  type WebhookFetch,
} from "../../../src/services/webhooks/index.js";
import { FakeClock } from "./fake-clock.js";
import { syntheticConfig } from "../slices/harness.js";

// Near the real time: the standardwebhooks verifier checks timestamps against Date.now().
const T0 = Math.floor(Date.now() / 1000) * 1000;
const RETRY = { maxAttempts: 3, initialDelayMs: 1000, multiplier: 2, maxDelayMs: 10_000, jitter: 0.5 };

function job(webhook: JobRecord["webhook"], id = "inv_0123456789abcdef01234567"): JobRecord {
  const record = newJobRecord({ id, tenantId: "tenant-a", keyId: "key_0123456789abcdef", config: syntheticConfig(), webhook, now: new Date(T0) });
  return { ...record, status: "succeeded", step: 5 };
}

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Receivers answer from `answers` in order (per URL when given a record), then 204. */
function setup(answers: Array<number | Error> | Record<string, Array<number | Error>> = []) {
  const store = new MemoryStore();
  const clock = new FakeClock(T0);
  const secrets = new WebhookSecretStore({ store, clock });
  const sent: Sent[] = [];
  const fetch: WebhookFetch = async (url, init) => {
    sent.push({ url, headers: init.headers, body: init.body });
    const queue = Array.isArray(answers) ? answers : (answers[url] ??= []);
    const answer = queue.shift() ?? 204;
    if (answer instanceof Error) throw answer;
    return { status: answer };
  };
  const worker = (policy = { allowPrivateAddresses: false, resolve: async () => ["93.184.215.14"] }) =>
    new WebhookDeliveryWorker({ store, secrets, fetch, policy, clock, random: () => 0, retry: RETRY });
  return { store, clock, secrets, sent, worker, sink: new OutboxJobEventSink(store), outbox: new WebhookOutbox(store) };
}

describe("the webhook outbox", () => {
  it("enqueues an event once per (job, type), however often it is emitted", async () => {
    const { store, sink, outbox } = setup();
    const j = job({ url: "https://hooks.example.com/x" });
    await sink.emit(j, "inversion.succeeded");
    await sink.emit({ ...j, step: 99, updatedAt: new Date(T0 + 5000).toISOString() }, "inversion.succeeded");
    const { record } = (await outbox.read(j.id, "inversion.succeeded"))!;
    expect(JSON.parse(record.body).data.step).toBe(5); // the first enqueue wins, body and id fixed
    expect(record.status).toBe("pending");
    expect((await store.list("webhooks/")).entries.map((e) => e.key)).toEqual([deliveryKey(j.id, "inversion.succeeded"), pendingMarkerKey(j.id, "inversion.succeeded")]);
  });

  it("drops events the job's filter excludes and jobs without a webhook", async () => {
    const { store, sink } = setup();
    await sink.emit(job({ url: "https://hooks.example.com/x", events: ["inversion.failed"] }), "inversion.succeeded");
    await sink.emit(job(null), "inversion.started");
    expect((await store.list("webhooks/")).entries).toEqual([]);
  });

  it("delivers a verified message, records the attempt and clears the marker", async () => {
    const { store, sink, sent, worker, secrets, outbox, clock } = setup();
    const j = job({ url: "https://hooks.example.com/x" });
    await sink.emit(j, "inversion.succeeded");
    expect(await worker().deliverDue()).toEqual({ attempted: 1 });
    expect(sent).toHaveLength(1);
    const [secret] = await secrets.activeSecrets("tenant-a");
    const payload = new Webhook(secret!).verify(sent[0]!.body, { ...sent[0]!.headers }) as { type: string; data: { id: string } };
    expect(payload).toMatchObject({ type: "inversion.succeeded", data: { id: j.id, status: "succeeded" } });
    const { record } = (await outbox.read(j.id, "inversion.succeeded"))!;
    expect(record).toMatchObject({ status: "delivered", attempts: [{ at: new Date(clock.now()).toISOString(), status: 204 }] });
    expect(await store.get(pendingMarkerKey(j.id, "inversion.succeeded"))).toBeUndefined();
    expect(await worker().deliverDue()).toEqual({ attempted: 0 });
  });

  it("retries a failing receiver with backoff under the same webhook-id, across worker instances", async () => {
    const { sink, sent, worker, outbox, clock } = setup([500, new Error("ECONNRESET")]);
    const j = job({ url: "https://hooks.example.com/x" });
    await sink.emit(j, "inversion.started");
    const first = await worker().deliverDue();
    expect(first).toEqual({ attempted: 1, nextDueAt: T0 + 1000 }); // initialDelay, jitter u = 0
    expect(await worker().deliverDue()).toEqual({ attempted: 0, nextDueAt: T0 + 1000 }); // not yet due
    clock.now = () => T0 + 1000;
    const second = await worker().deliverDue(); // a fresh worker: as after a restart
    expect(second).toEqual({ attempted: 1, nextDueAt: T0 + 3000 });
    clock.now = () => T0 + 3000;
    expect((await worker().deliverDue()).attempted).toBe(1);
    expect(sent.map((s) => s.headers["webhook-id"])).toEqual(Array(3).fill(sent[0]!.headers["webhook-id"]));
    const { record } = (await outbox.read(j.id, "inversion.started"))!;
    expect(record.status).toBe("delivered");
    expect(record.attempts.map((a) => a.status ?? a.error)).toEqual([500, "Error: ECONNRESET", 204]);
  });

  it("gives up after maxAttempts and stops at 410 Gone", async () => {
    const s = setup({ "https://hooks.example.com/x": [500, 500, 500], "https://hooks.example.com/y": [410] });
    await s.sink.emit(job({ url: "https://hooks.example.com/x" }), "inversion.started");
    await s.sink.emit(job({ url: "https://hooks.example.com/y" }, "inv_abcdefabcdefabcdefabcdef"), "inversion.started");
    for (let t = 0; t < 5; t++) {
      s.clock.now = () => T0 + t * 20_000;
      await s.worker().deliverDue();
    }
    expect((await s.outbox.read("inv_0123456789abcdef01234567", "inversion.started"))!.record.status).toBe("failed");
    expect((await s.outbox.read("inv_abcdefabcdefabcdefabcdef", "inversion.started"))!.record).toMatchObject({ status: "disabled", attempts: [{ status: 410 }] });
    expect(s.sent).toHaveLength(4);
  });

  it("never contacts a URL the guard refuses", async () => {
    const { sink, sent, worker, outbox } = setup();
    const j = job({ url: "http://169.254.169.254/latest" });
    await sink.emit(j, "inversion.succeeded");
    await worker({ allowPrivateAddresses: false, resolve: async () => [] }).deliverDue();
    expect(sent).toEqual([]);
    expect((await outbox.read(j.id, "inversion.succeeded"))!.record).toMatchObject({ status: "refused", attempts: [{ error: expect.stringContaining("link-local") }] });
  });

  it("a delivery claimed by one worker is skipped by another until its lease runs out", async () => {
    const { sink, outbox, worker, sent } = setup();
    const j = job({ url: "https://hooks.example.com/x" });
    await sink.emit(j, "inversion.succeeded");
    const current = (await outbox.read(j.id, "inversion.succeeded"))!;
    await outbox.update(current, { ...current.record, nextAttemptAt: new Date(T0 + 60_000).toISOString() }); // as a claim does
    expect(await worker().deliverDue()).toEqual({ attempted: 0, nextDueAt: T0 + 60_000 });
    expect(sent).toEqual([]);
  });
});

describe("webhook records from a newer release (docs/STORE.md, Compatibility)", () => {
  const FUTURE_TEXT = '"futureField":{"x":1}';
  const text = async (store: MemoryStore, key: string) => new TextDecoder().decode((await store.get(key))!.body);
  /** Adds unknown fields to a stored JSON object with If-Match, as a newer release's process would. */
  async function writeAsNewerRelease(store: MemoryStore, key: string, edit: (record: Record<string, any>) => void) {
    const found = (await store.get(key))!;
    const record = JSON.parse(new TextDecoder().decode(found.body)) as Record<string, any>;
    edit(record);
    await store.put(key, new TextEncoder().encode(JSON.stringify(record)), { ifMatch: found.etag, contentType: "application/json" });
  }

  it("a delivery keeps unknown fields, at the top level and in an attempt, through the claim and the attempt's update", async () => {
    const { store, sink, worker, outbox, clock } = setup([500]);
    const j = job({ url: "https://hooks.example.com/x" });
    await sink.emit(j, "inversion.succeeded");
    expect((await worker().deliverDue()).attempted).toBe(1); // 500: a retry is due later
    const key = deliveryKey(j.id, "inversion.succeeded");
    await writeAsNewerRelease(store, key, (record) => {
      record.futureField = { x: 1 };
      record.attempts[0].futureField = { x: 1 };
    });
    clock.now = () => T0 + 1000;
    expect((await worker().deliverDue()).attempted).toBe(1);
    const stored = await text(store, key);
    expect(stored.split(FUTURE_TEXT)).toHaveLength(3);
    const { record } = (await outbox.read(j.id, "inversion.succeeded"))!;
    expect(record).toMatchObject({ status: "delivered", futureField: { x: 1 }, attempts: [{ status: 500, futureField: { x: 1 } }, { status: 204 }] });
  });

  it("a tenant's secret record keeps unknown fields through a rotation", async () => {
    const { store, secrets } = setup();
    const first = await secrets.getOrCreate("tenant-a");
    await writeAsNewerRelease(store, webhookSecretKey("tenant-a"), (record) => (record.futureField = { x: 1 }));
    const rotated = await secrets.rotate("tenant-a", 60_000);
    expect(rotated.secret).not.toBe(first.secret);
    const stored = await text(store, webhookSecretKey("tenant-a"));
    expect(stored.split(FUTURE_TEXT)).toHaveLength(2);
    expect(JSON.parse(stored)).toMatchObject({ secret: rotated.secret, previous: { secret: first.secret } });
  });
});

describe("per-tenant webhook secrets", () => {
  it("creates one secret on first need and keeps the old one active during the grace period", async () => {
    const { store, clock, secrets } = setup();
    const [a, b] = await Promise.all([secrets.getOrCreate("tenant-a"), new WebhookSecretStore({ store, clock }).getOrCreate("tenant-a")]);
    expect(a.secret).toBe(b.secret);
    expect(a.secret).toMatch(/^whsec_/);
    expect((await secrets.getOrCreate("tenant-b")).secret).not.toBe(a.secret);
    const rotated = await secrets.rotate("tenant-a", 60_000);
    expect(rotated.secret).not.toBe(a.secret);
    expect(await secrets.activeSecrets("tenant-a")).toEqual([rotated.secret, a.secret]);
    clock.now = () => T0 + 60_001;
    expect(await secrets.activeSecrets("tenant-a")).toEqual([rotated.secret]);
    await expect(secrets.rotate("tenant-a", -1)).rejects.toThrow(RangeError);
  });
});
