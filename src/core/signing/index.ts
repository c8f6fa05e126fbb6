export { constantTimeEqual, fromBase64, hmacSha256, toBase64 } from "./hmac-sha256.js";
export { generateWebhookSecret, InvalidWebhookSecretError, parseWebhookSecret, SECRET_PREFIX } from "./secret.js";
export { signWebhook, verifyWebhook, WebhookVerificationError, type WebhookHeaders } from "./signature.js";
