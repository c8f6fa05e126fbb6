/**
 * The durable webhook outbox. Each job event a subscription asks for becomes one delivery
 * object, created once (If-None-Match) under a key made of (job, event type):
 *
 *   webhooks/deliveries/<job>/<type>.json   the message, its attempts and its outcome
 *   webhooks/pending/<job>/<type>           an empty marker while the delivery is unfinished
 *
 * so a retried slice that emits the same event again enqueues nothing new and the webhook-id
 * (derived from the same pair) stays stable. Workers find unfinished deliveries through the
 * markers, which is how delivery resumes after a restart. Every change to a delivery object is
 * an If-Match write, so two workers never attempt the same delivery at once.
 */
import { z } from "zod";
import { storedObject } from "../../core/io/stored-object.js";
import { PreconditionFailedError } from "../../ports/store/errors.js";
import { listAll } from "../../ports/store/list-all.js";
import type { Store } from "../../ports/store/store.js";
import type { JobRecord } from "../jobs/job-record.js";
import type { JobEventSink } from "../slices/events.js";
import { subscribesTo, WEBHOOK_EVENT_TYPES, webhookMessage, type WebhookEventType } from "./events.js";

const isoTime = z.iso.datetime();

export const DELIVERY_STATUSES = ["pending", "delivered", "disabled", "failed", "refused"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Fields a newer version adds are kept through every update (storedObject; docs/STORE.md, "Compatibility"). */
export const deliveryRecordSchema = storedObject({
  format: z.literal("dvar-webhook-delivery"),
  formatVersion: z.literal(1),
  /** The webhook-id. */
  id: z.string(),
  jobId: z.string(),
  tenantId: z.string(),
  type: z.enum(WEBHOOK_EVENT_TYPES),
  url: z.string(),
  /** The exact JSON text that is signed and sent, fixed when the event was enqueued. */
  body: z.string(),
  /** pending: more attempts to come; delivered: a 2xx; disabled: 410 Gone; failed: attempts ran out; refused: the URL guard said no. */
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.array(storedObject({ at: isoTime, status: z.number().int().optional(), error: z.string().optional() })),
  /** Pending: not before this time (also pushed ahead while a worker holds the delivery). */
  nextAttemptAt: isoTime,
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export interface VersionedDelivery {
  readonly record: DeliveryRecord;
  readonly etag: string;
}

export const PENDING_PREFIX = "webhooks/pending/";

export function deliveryKey(jobId: string, type: WebhookEventType): string {
  return `webhooks/deliveries/${jobId}/${type}.json`;
}

export function pendingMarkerKey(jobId: string, type: WebhookEventType): string {
  return `${PENDING_PREFIX}${jobId}/${type}`;
}

export class CorruptDeliveryRecordError extends Error {
  override readonly name = "CorruptDeliveryRecordError";
}

/** Reads and writes delivery objects and their pending markers. */
export class WebhookOutbox {
  constructor(private readonly store: Store) {}

  /** Enqueues unless already enqueued; true when this call created the delivery. */
  async enqueue(record: DeliveryRecord): Promise<boolean> {
    const key = deliveryKey(record.jobId, record.type);
    try {
      await this.store.put(key, encode(record), { ifNoneMatch: "*", contentType: "application/json" });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      // Already enqueued; a crash may have come between the object and its marker.
      const existing = await this.read(record.jobId, record.type);
      if (existing?.record.status === "pending") await this.markPending(record.jobId, record.type);
      return false;
    }
    await this.markPending(record.jobId, record.type);
    return true;
  }

  async read(jobId: string, type: WebhookEventType): Promise<VersionedDelivery | undefined> {
    const found = await this.store.get(deliveryKey(jobId, type));
    if (!found) return undefined;
    const parsed = deliveryRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(found.body)));
    if (!parsed.success || parsed.data.jobId !== jobId || parsed.data.type !== type) {
      throw new CorruptDeliveryRecordError(`webhook delivery ${deliveryKey(jobId, type)} is invalid`);
    }
    return { record: parsed.data, etag: found.etag };
  }

  /** Replaces `current` if nobody wrote it since; undefined when another writer got there first. */
  async update(current: VersionedDelivery, next: DeliveryRecord): Promise<VersionedDelivery | undefined> {
    try {
      const { etag } = await this.store.put(deliveryKey(next.jobId, next.type), encode(next), { ifMatch: current.etag, contentType: "application/json" });
      return { record: next, etag };
    } catch (error) {
      if (error instanceof PreconditionFailedError) return undefined;
      throw error;
    }
  }

  /** Every (job, type) with a pending marker, oldest job ids first. */
  async *pending(): AsyncGenerator<{ jobId: string; type: WebhookEventType }> {
    for await (const entry of listAll(this.store, PENDING_PREFIX)) {
      const [jobId, type] = entry.key.slice(PENDING_PREFIX.length).split("/");
      if (jobId && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type ?? "")) yield { jobId, type: type as WebhookEventType };
    }
  }

  async clearPending(jobId: string, type: WebhookEventType): Promise<void> {
    await this.store.delete(pendingMarkerKey(jobId, type));
  }

  private async markPending(jobId: string, type: WebhookEventType): Promise<void> {
    await this.store.put(pendingMarkerKey(jobId, type), new Uint8Array(0), { contentType: "application/octet-stream" });
  }
}

/** The payload receivers get under `data` (webhookMessage adds the job id). */
function eventData(job: JobRecord): Record<string, unknown> {
  // The error by its named fields: stored objects keep fields a newer release added.
  return { object: "inversion", status: job.status, step: job.step, error: job.error && { code: job.error.code, message: job.error.message } };
}

/**
 * The JobEventSink that feeds the outbox: events the job's subscription does not ask for (or
 * jobs without a webhook) are dropped here; `onEnqueued` lets an in-process worker start at once.
 */
export class OutboxJobEventSink implements JobEventSink {
  private readonly outbox: WebhookOutbox;

  constructor(
    store: Store,
    private readonly onEnqueued: () => void = () => {},
  ) {
    this.outbox = new WebhookOutbox(store);
  }

  async emit(job: JobRecord, type: WebhookEventType): Promise<void> {
    if (job.webhook === null || !subscribesTo(job.webhook, type)) return;
    const message = webhookMessage(job.id, type, new Date(job.updatedAt), eventData(job));
    await this.outbox.enqueue({
      format: "dvar-webhook-delivery",
      formatVersion: 1,
      id: message.id,
      jobId: job.id,
      tenantId: job.tenantId,
      type,
      url: job.webhook.url,
      body: message.body,
      status: "pending",
      attempts: [],
      nextAttemptAt: job.updatedAt,
      createdAt: job.updatedAt,
      finishedAt: null,
    });
    this.onEnqueued();
  }
}

function encode(record: DeliveryRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}
