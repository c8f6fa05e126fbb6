import { createHash } from "node:crypto";
import { z } from "zod";
import { storedObject } from "../../core/io/stored-object.js";

export const WEBHOOK_EVENT_TYPES = ["inversion.started", "inversion.succeeded", "inversion.failed", "inversion.canceled"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * A job's webhook: where to send and which events (all four when `events` is absent). Stored in
 * the job record, so fields a newer version adds are kept (storedObject).
 */
export const webhookSubscriptionSchema = storedObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional(),
});
export type WebhookSubscription = z.infer<typeof webhookSubscriptionSchema>;

export function subscribesTo(subscription: WebhookSubscription, type: WebhookEventType): boolean {
  return subscription.events === undefined || subscription.events.includes(type);
}

/** What is delivered: the id stays the same across every retry and redelivery. */
export interface WebhookMessage {
  readonly id: string;
  readonly type: WebhookEventType;
  /** The exact JSON text that is signed and sent. */
  readonly body: string;
}

/**
 * The message for a job event. Its id is derived from (job, event type), so an event enqueued
 * twice (a retried slice finalizing again) reaches receivers with the same webhook-id and can
 * be deduplicated.
 */
export function webhookMessage(
  jobId: string,
  type: WebhookEventType,
  occurredAt: Date,
  data: Readonly<Record<string, unknown>>,
): WebhookMessage {
  const id = `msg_${createHash("sha256").update(`${jobId}\n${type}`).digest("hex").slice(0, 32)}`;
  const body = JSON.stringify({ type, timestamp: occurredAt.toISOString(), data: { ...data, id: jobId } });
  return { id, type, body };
}
