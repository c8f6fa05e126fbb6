/**
 * Delivers what the outbox holds, one attempt at a time, so every attempt is recorded on the
 * delivery object before the next is scheduled and a restarted worker picks up where the last
 * one stopped. Each attempt:
 *
 *   1. claims the delivery (If-Match write pushing `nextAttemptAt` ahead by the lease), so a
 *      second worker skips it;
 *   2. checks the URL with the guard: a refused URL is never contacted and the delivery ends
 *      `refused` (a name that does not resolve is retried like a network error);
 *   3. signs with the tenant's active secrets and sends once through `deliverWebhook`;
 *   4. records the attempt and the outcome or the next due time (backoff with jitter), If-Match
 *      on the claim, and clears the pending marker once the delivery is finished.
 */
import { systemClock, type Clock } from "../../ports/clock.js";
import { assertRetryPolicy, DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "./backoff.js";
import { deliverWebhook } from "./delivery.js";
import type { WebhookFetch } from "./guarded-fetch.js";
import { WebhookOutbox, type DeliveryRecord, type VersionedDelivery } from "./outbox.js";
import type { WebhookSecretStore } from "./secret-store.js";
import { checkWebhookUrl, WebhookUrlRefusedError, type WebhookNetworkPolicy } from "./url-guard.js";
import type { Store } from "../../ports/store/index.js";

export interface DeliveryWorkerDeps {
  readonly store: Store;
  readonly secrets: Pick<WebhookSecretStore, "activeSecrets">;
  /** The transport (createGuardedFetch in production). */
  readonly fetch: WebhookFetch;
  /** Checked before every attempt, whatever the transport does. */
  readonly policy: WebhookNetworkPolicy;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly retry?: RetryPolicy;
  readonly attemptTimeoutMs?: number;
  /** How long a claimed delivery is left alone by other workers (default 60 s). */
  readonly leaseMs?: number;
}

export interface DeliveryPassResult {
  /** Attempts made in this pass. */
  readonly attempted: number;
  /** The earliest time a pending delivery is due next (ms since the epoch), if any is pending. */
  readonly nextDueAt?: number;
}

export class WebhookDeliveryWorker {
  private readonly outbox: WebhookOutbox;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly retry: RetryPolicy;
  private readonly leaseMs: number;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.outbox = new WebhookOutbox(deps.store);
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.retry = deps.retry ?? DEFAULT_RETRY_POLICY;
    assertRetryPolicy(this.retry);
    this.leaseMs = deps.leaseMs ?? 60_000;
  }

  /** One pass over the pending markers: attempts every delivery that is due. */
  async deliverDue(filter?: { jobId?: string }): Promise<DeliveryPassResult> {
    let attempted = 0;
    let nextDueAt: number | undefined;
    for await (const { jobId, type } of this.outbox.pending()) {
      if (filter?.jobId !== undefined && filter.jobId !== jobId) continue;
      const current = await this.outbox.read(jobId, type);
      if (!current || current.record.status !== "pending") {
        await this.outbox.clearPending(jobId, type);
        continue;
      }
      const due = Date.parse(current.record.nextAttemptAt);
      if (due > this.clock.now()) {
        nextDueAt = Math.min(nextDueAt ?? due, due);
        continue;
      }
      const after = await this.attempt(current);
      if (after === undefined) continue; // another worker holds it
      attempted++;
      if (after.status === "pending") {
        const next = Date.parse(after.nextAttemptAt);
        nextDueAt = Math.min(nextDueAt ?? next, next);
      }
    }
    return nextDueAt === undefined ? { attempted } : { attempted, nextDueAt };
  }

  /** Makes one attempt; the record as written after it, or undefined when the claim was lost. */
  private async attempt(current: VersionedDelivery): Promise<DeliveryRecord | undefined> {
    const claimed = await this.outbox.update(current, { ...current.record, nextAttemptAt: this.iso(this.leaseMs) });
    if (!claimed) return undefined;
    const record = claimed.record;
    const at = this.iso(0);

    let refused: string | undefined;
    try {
      await checkWebhookUrl(record.url, this.deps.policy);
    } catch (error) {
      if (!(error instanceof WebhookUrlRefusedError)) throw error;
      if (error.problem !== "unresolvable") refused = error.message;
    }
    let next: DeliveryRecord;
    if (refused !== undefined) {
      next = { ...record, status: "refused", attempts: [...record.attempts, { at, error: `refused: ${refused}` }], finishedAt: at };
    } else {
      const secrets = await this.deps.secrets.activeSecrets(record.tenantId);
      const result = await deliverWebhook(
        { url: record.url, secrets },
        { id: record.id, type: record.type, body: record.body },
        {
          fetch: this.deps.fetch,
          clock: this.clock,
          random: this.random,
          retry: { ...this.retry, maxAttempts: 1 },
          ...(this.deps.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: this.deps.attemptTimeoutMs }),
        },
      );
      const made = result.attempts[0]!;
      const attempts = [...record.attempts, { at: new Date(made.at).toISOString(), ...(made.status === undefined ? {} : { status: made.status }), ...(made.error === undefined ? {} : { error: made.error }) }];
      const finishedAt = this.iso(0);
      if (result.outcome === "delivered" || result.outcome === "disabled") {
        next = { ...record, status: result.outcome, attempts, finishedAt };
      } else if (attempts.length >= this.retry.maxAttempts) {
        next = { ...record, status: "failed", attempts, finishedAt };
      } else {
        next = { ...record, attempts, nextAttemptAt: this.iso(retryDelayMs(attempts.length, this.random(), this.retry)) };
      }
    }
    const written = await this.outbox.update(claimed, next);
    if (!written) return undefined; // the lease ran out and another worker took over
    if (next.status !== "pending") await this.outbox.clearPending(next.jobId, next.type);
    return next;
  }

  private iso(offsetMs: number): string {
    return new Date(this.clock.now() + offsetMs).toISOString();
  }
}
