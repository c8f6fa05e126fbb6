import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  deliverWebhook,
  DEFAULT_RETRY_POLICY,
  retryDelayMs,
  webhookMessage,
  type RetryPolicy,
  type WebhookFetch,
} from "../../../src/services/webhooks/index.js";
import { generateWebhookSecret } from "../../../src/core/signing/index.js";
import { FakeClock } from "./fake-clock.js";

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers from a script: a status, or "network" for a failed connection. */
function scriptedFetch(script: (number | "network")[]): { fetch: WebhookFetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: WebhookFetch = async (url, init) => {
    sent.push({ url, headers: init.headers, body: init.body });
    const next = script.shift() ?? 200;
    if (next === "network") throw new Error("ECONNREFUSED");
    return { status: next };
  };
  return { fetch, sent };
}

const secret = generateWebhookSecret();
const endpoint = { url: "https://hooks.example.com/dvar", secrets: [secret] };
const start = Date.UTC(2026, 0, 1, 12, 0, 0);
const message = webhookMessage("inv_42", "inversion.succeeded", new Date(start), { status: "succeeded", steps: 384 });
const draws = (values: number[]) => () => values.shift() ?? 0;

afterEach(() => {
  vi.useRealTimers();
});

/** Checks an attempt with the reference package, as a receiver at the attempt's time would. */
function verifiedByReference(sent: Sent): unknown {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Number(sent.headers["webhook-timestamp"]) * 1000);
  return new Webhook(secret).verify(sent.body, sent.headers);
}

describe("deliverWebhook", () => {
  it("delivers on the first 2xx with headers the reference package verifies", async () => {
    const { fetch, sent } = scriptedFetch([204]);
    const clock = new FakeClock(start);
    const result = await deliverWebhook(endpoint, message, { fetch, clock, random: draws([]) });
    expect(result).toEqual({ outcome: "delivered", attempts: [{ at: start, status: 204 }] });
    expect(sent[0]!.url).toBe(endpoint.url);
    expect(sent[0]!.headers["content-type"]).toBe("application/json");
    expect(verifiedByReference(sent[0]!)).toEqual(JSON.parse(message.body));
    expect(clock.sleeps).toEqual([]);
  });

  it("retries failures with backoff and jitter, keeping the webhook-id and re-signing each attempt", async () => {
    const { fetch, sent } = scriptedFetch([500, "network", 429, 200]);
    const clock = new FakeClock(start);
    const us = [0, 0.5, 0.9];
    const result = await deliverWebhook(endpoint, message, { fetch, clock, random: draws([...us]) });
    expect(result.outcome).toBe("delivered");
    expect(result.attempts.map((a) => a.status ?? a.error)).toEqual([500, "Error: ECONNREFUSED", 429, 200]);
    // 5 s, 20 s, 80 s before jitter; jitter takes away up to half: d * (1 - 0.5 u).
    expect(clock.sleeps).toEqual([5000, 20000 * 0.75, 80000 * 0.55]);
    expect(new Set(sent.map((s) => s.headers["webhook-id"]))).toEqual(new Set([message.id]));
    const timestamps = sent.map((s) => Number(s.headers["webhook-timestamp"]));
    expect(timestamps).toEqual([start / 1000, start / 1000 + 5, start / 1000 + 20, start / 1000 + 64]);
    for (const attempt of sent) expect(verifiedByReference(attempt)).toEqual(JSON.parse(message.body));
    expect(new Set(sent.map((s) => s.body)).size).toBe(1);
  });

  it("stops at once and reports disabled when the receiver answers 410 Gone", async () => {
    const { fetch, sent } = scriptedFetch([410, 200]);
    const clock = new FakeClock(start);
    const result = await deliverWebhook(endpoint, message, { fetch, clock, random: draws([]) });
    expect(result).toEqual({ outcome: "disabled", attempts: [{ at: start, status: 410 }] });
    expect(sent).toHaveLength(1);
  });

  it("gives up after maxAttempts", async () => {
    const retry: RetryPolicy = { maxAttempts: 4, initialDelayMs: 1000, multiplier: 10, maxDelayMs: 50_000, jitter: 0 };
    const { fetch, sent } = scriptedFetch([500, 502, 503, 504, 200]);
    const clock = new FakeClock(start);
    const result = await deliverWebhook(endpoint, message, { fetch, clock, random: draws([]), retry });
    expect(result.outcome).toBe("failed");
    expect(sent).toHaveLength(4);
    expect(clock.sleeps).toEqual([1000, 10_000, 50_000]);
  });

  it("counts a receiver that never answers as a failed attempt after the attempt timeout", async () => {
    const hanging: WebhookFetch = (_url, init) =>
      new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
    const retry = { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 };
    const result = await deliverWebhook(endpoint, message, {
      fetch: hanging,
      clock: new FakeClock(start),
      random: draws([]),
      retry,
      attemptTimeoutMs: 20,
    });
    expect(result.outcome).toBe("failed");
    expect(result.attempts.map((a) => a.error)).toEqual([expect.stringMatching(/TimeoutError/), expect.stringMatching(/TimeoutError/)]);
  });

  it("rejects a nonsensical retry policy before sending anything", async () => {
    const { fetch, sent } = scriptedFetch([]);
    const bad = { ...DEFAULT_RETRY_POLICY, maxAttempts: 0 };
    await expect(deliverWebhook(endpoint, message, { fetch, clock: new FakeClock(start), random: draws([]), retry: bad })).rejects.toThrow(
      /retry policy/,
    );
    expect(sent).toEqual([]);
  });
});

describe("retryDelayMs", () => {
  it("grows exponentially, caps, and jitters within [d(1 - jitter), d]", () => {
    const p = DEFAULT_RETRY_POLICY;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 0, p))).toEqual([5000, 20000, 80000, 320000]);
    expect(retryDelayMs(7, 0, p)).toBe(2 * 60 * 60 * 1000);
    expect(retryDelayMs(30, 0, p)).toBe(2 * 60 * 60 * 1000);
    expect(retryDelayMs(1, 0.999999, p)).toBe(2500);
  });
});
