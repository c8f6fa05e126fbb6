/**
 * Webhooks end to end on the embedded server: jobs created over HTTP, events delivered by the
 * in-process outbox loop to a receiver on 127.0.0.1 (allowed by allowPrivateWebhooks) and
 * verified with the standardwebhooks reference package.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { FsStore } from "../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../src/services/auth/index.js";
import { startEmbeddedServer, type EmbeddedServer } from "../../src/server/embedded.js";
import type { RetryPolicy } from "../../src/services/webhooks/index.js";
import { Receiver } from "../support/webhook-receiver.js";

const FAST_RETRY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 40, multiplier: 2, maxDelayMs: 400, jitter: 0.5 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "dvar-hooks-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const { key } = await new ApiKeyRegistry(new FsStore({ root: dir })).issue("dev", "test");
  const receiver = new Receiver();
  await receiver.start();
  cleanups.push(() => receiver.close());
  let server: EmbeddedServer | undefined;
  const start = async (retry: RetryPolicy = FAST_RETRY, env: Record<string, string> = {}) => {
    server = await startEmbeddedServer({
      port: 0,
      host: "127.0.0.1",
      env: { DVAR_STORE_DIR: dir, ...env },
      allowPrivateWebhooks: true,
      webhooks: { retry, idleMs: 50 },
      log: () => {},
    });
    const running = server;
    cleanups.push(() => running.close());
    return running;
  };
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server!.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  const createJob = async (webhook: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const response = await api("/v1/inversions", {
      method: "POST",
      body: JSON.stringify({ objective: "synthetic", max_steps: 30, stopping: { name: "fixed", steps: 30 }, webhook: { url: receiver.url, ...webhook }, ...extra }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };
  const secret = async () => ((await (await api("/v1/webhook-secret")).json()) as { secret: string }).secret;
  return { receiver, start, api, createJob, secret };
}

async function until(condition: () => boolean, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("webhooks from the embedded server", () => {
  it("delivers inversion.started and inversion.succeeded, signed with the tenant's secret", async () => {
    const s = await setup();
    await s.start();
    const secret = await s.secret();
    expect(secret).toMatch(/^whsec_/);
    expect(await s.secret()).toBe(secret); // created once
    const id = await s.createJob({});
    await until(() => s.receiver.types().length === 2, "two events");
    expect(s.receiver.types().sort()).toEqual(["inversion.started", "inversion.succeeded"]);
    for (const { headers, body } of s.receiver.received) {
      const payload = new Webhook(secret).verify(body, headers) as { data: { id: string } };
      expect(payload.data.id).toBe(id);
    }
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(s.receiver.received[0]!.body, s.receiver.received[0]!.headers)).toThrow();
  });

  it("retries a failing receiver under the same webhook-id", async () => {
    const s = await setup();
    s.receiver.failures = 2;
    await s.start();
    await s.createJob({ events: ["inversion.succeeded"] });
    await until(() => s.receiver.types().length === 1, "the delivery");
    expect(s.receiver.received.map((r) => r.answered)).toEqual([503, 503, 204]);
    expect(new Set(s.receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    const secret = await s.secret();
    for (const { headers, body } of s.receiver.received) expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
  });

  it("the filter excludes events the job did not ask for", async () => {
    const s = await setup();
    await s.start();
    const id = await s.createJob({ events: ["inversion.succeeded"] });
    await until(() => s.receiver.types().length === 1, "the delivery");
    const job = (await (await s.api(`/v1/inversions/${id}`)).json()) as { status: string };
    expect(job.status).toBe("succeeded");
    await new Promise((r) => setTimeout(r, 150)); // a few loop passes: nothing else comes
    expect(s.receiver.types()).toEqual(["inversion.succeeded"]);
  });

  it("a restarted server resumes pending deliveries from the store", async () => {
    const s = await setup();
    s.receiver.failures = 1_000;
    const slow: RetryPolicy = { ...FAST_RETRY, initialDelayMs: 300, maxDelayMs: 300 };
    const first = await s.start(slow);
    const id = await s.createJob({ events: ["inversion.succeeded"] });
    await until(() => s.receiver.received.length === 1, "the first (failed) attempt");
    await first.close();
    s.receiver.failures = 0;
    const attemptsBefore = s.receiver.received.length;
    await s.start(slow);
    await until(() => s.receiver.types().length === 1, "the resumed delivery");
    expect(attemptsBefore).toBe(1);
    expect(JSON.parse(s.receiver.received.at(-1)!.body).data.id).toBe(id);
    expect(s.receiver.received.at(-1)!.headers["webhook-id"]).toBe(s.receiver.received[0]!.headers["webhook-id"]);
  });

  it("a canceled job emits inversion.canceled", async () => {
    const s = await setup();
    await s.start(FAST_RETRY, { DVAR_SLICE_MAX_STEPS: "1" });
    const id = await s.createJob({ events: ["inversion.canceled", "inversion.succeeded"] }, { max_steps: 20000, stopping: { name: "fixed", steps: 20000 } });
    const canceled = await s.api(`/v1/inversions/${id}/cancel`, { method: "POST" });
    expect(canceled.status).toBe(200);
    await until(() => s.receiver.types().length === 1, "the canceled event");
    expect(s.receiver.types()).toEqual(["inversion.canceled"]);
    const payload = new Webhook(await s.secret()).verify(s.receiver.received[0]!.body, s.receiver.received[0]!.headers) as { data: { status: string } };
    expect(payload.data.status).toBe("canceled");
  });

  it("refuses a loopback webhook URL when private addresses are not allowed", async () => {
    const s = await setup();
    const dir = mkdtempSync(join(tmpdir(), "dvar-hooks-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { key } = await new ApiKeyRegistry(new FsStore({ root: dir })).issue("dev", "test");
    const server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: dir }, log: () => {} });
    cleanups.push(() => server.close());
    const response = await fetch(`${server.url}/v1/inversions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ objective: "synthetic", max_steps: 5, stopping: { name: "fixed", steps: 5 }, webhook: { url: s.receiver.url } }),
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { detail: string }).detail).toContain("loopback");
    expect(s.receiver.received).toEqual([]);
  });
});
