import { signWebhook } from "../../core/signing/index.js";
import type { Clock } from "../../ports/clock.js";
import { assertRetryPolicy, DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "./backoff.js";
import type { WebhookMessage } from "./events.js";
import type { WebhookFetch } from "./guarded-fetch.js";

export interface WebhookEndpoint {
  readonly url: string;
  /** Active signing secrets (several during rotation). */
  readonly secrets: readonly string[];
}

export interface DeliveryDeps {
  readonly fetch: WebhookFetch;
  readonly clock: Clock;
  /** Uniform draws in [0, 1) for the jitter. */
  readonly random: () => number;
  readonly retry?: RetryPolicy;
  /** Per-attempt limit (default 15 s); a timeout counts as a failed attempt. */
  readonly attemptTimeoutMs?: number;
}

export interface DeliveryAttempt {
  /** When the attempt started (ms since the epoch, from the clock). */
  readonly at: number;
  readonly status?: number;
  /** Why the attempt got no response (network error or timeout). */
  readonly error?: string;
}

export interface DeliveryResult {
  /** delivered: a 2xx; disabled: the receiver answered 410 Gone; failed: attempts ran out. */
  readonly outcome: "delivered" | "disabled" | "failed";
  readonly attempts: readonly DeliveryAttempt[];
}

/**
 * Delivers one message: signs each attempt with that attempt's timestamp (receivers reject old
 * timestamps) under the message's stable id, retries any non-2xx answer or network failure
 * with backoff and jitter, and stops at once on 410 Gone (the endpoint is to be disabled).
 */
export async function deliverWebhook(
  endpoint: WebhookEndpoint,
  message: WebhookMessage,
  deps: DeliveryDeps,
): Promise<DeliveryResult> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  assertRetryPolicy(policy);
  const attempts: DeliveryAttempt[] = [];
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await deps.clock.sleep(retryDelayMs(attempt - 1, deps.random(), policy));
    const at = deps.clock.now();
    const headers = {
      ...signWebhook(message.id, Math.floor(at / 1000), message.body, endpoint.secrets),
      "content-type": "application/json",
      "user-agent": "dvar-webhooks/1",
    };
    try {
      const { status } = await deps.fetch(endpoint.url, {
        method: "POST",
        headers,
        body: message.body,
        signal: AbortSignal.timeout(deps.attemptTimeoutMs ?? 15_000),
      });
      attempts.push({ at, status });
      if (status >= 200 && status < 300) return { outcome: "delivered", attempts };
      if (status === 410) return { outcome: "disabled", attempts };
    } catch (error) {
      attempts.push({ at, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  return { outcome: "failed", attempts };
}
