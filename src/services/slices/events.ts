/**
 * Job lifecycle events leave the slice service through this port; the webhook integration
 * implements it (delivery is keyed by job and event type, so an event emitted twice by a
 * retried slice reaches receivers with the same webhook-id).
 */
import type { WebhookEventType } from "../webhooks/events.js";
import type { JobRecord } from "../jobs/job-record.js";

export interface JobEventSink {
  emit(job: JobRecord, type: WebhookEventType): Promise<void>;
}

export const noJobEvents: JobEventSink = { emit: async () => {} };
