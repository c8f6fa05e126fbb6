export { forbiddenReason } from "./address-policy.js";
export { DEFAULT_RETRY_POLICY, InvalidRetryPolicyError, retryDelayMs, type RetryPolicy } from "./backoff.js";
export { deliverWebhook, type DeliveryAttempt, type DeliveryDeps, type DeliveryResult, type WebhookEndpoint } from "./delivery.js";
export {
  subscribesTo,
  WEBHOOK_EVENT_TYPES,
  webhookMessage,
  webhookSubscriptionSchema,
  type WebhookEventType,
  type WebhookMessage,
  type WebhookSubscription,
} from "./events.js";
export { createGuardedFetch, type WebhookFetch } from "./guarded-fetch.js";
export { checkWebhookUrl, WebhookUrlRefusedError, type CheckedWebhookUrl, type WebhookNetworkPolicy, type WebhookUrlProblem } from "./url-guard.js";
export { CorruptWebhookSecretError, DEFAULT_ROTATION_GRACE_MS, WebhookSecretStore, webhookSecretKey, type WebhookSecretRecord } from "./secret-store.js";
export {
  CorruptDeliveryRecordError,
  DELIVERY_STATUSES,
  deliveryKey,
  OutboxJobEventSink,
  pendingMarkerKey,
  WebhookOutbox,
  type DeliveryRecord,
  type DeliveryStatus,
  type VersionedDelivery,
} from "./outbox.js";
export { WebhookDeliveryWorker, type DeliveryPassResult, type DeliveryWorkerDeps } from "./delivery-worker.js";
export { startDeliveryLoop, type DeliveryLoop, type DeliveryLoopOptions } from "./delivery-loop.js";
