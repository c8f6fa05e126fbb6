/**
 * Standard Webhooks signatures (standardwebhooks.com): HMAC-SHA256 over "id.timestamp.body",
 * base64, as "v1,<signature>". Several active secrets (key rotation) give several signatures,
 * space-separated, so receivers holding either secret accept the message.
 */
import { constantTimeEqual, hmacSha256, toBase64 } from "./hmac-sha256.js";
import { parseWebhookSecret } from "./secret.js";

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
}

const utf8 = new TextEncoder();

function sign(key: Uint8Array, id: string, timestamp: number, body: string): string {
  return toBase64(hmacSha256(key, utf8.encode(`${id}.${timestamp}.${body}`)));
}

/** Headers for one delivery attempt; `timestampSeconds` is the attempt's own time. */
export function signWebhook(id: string, timestampSeconds: number, body: string, secrets: readonly string[]): WebhookHeaders {
  if (secrets.length === 0) throw new WebhookVerificationError("at least one webhook secret is needed to sign");
  if (!Number.isSafeInteger(timestampSeconds)) throw new WebhookVerificationError("timestamp must be whole seconds");
  const signatures = secrets.map((secret) => `v1,${sign(parseWebhookSecret(secret), id, timestampSeconds, body)}`);
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": signatures.join(" ") };
}

/**
 * Checks a received message (for our own receivers and tests). Throws WebhookVerificationError
 * unless a v1 signature matches one of `secrets` and the timestamp is within `toleranceSeconds`.
 */
export function verifyWebhook(
  headers: Record<string, string | undefined>,
  body: string,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = 300,
): void {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signature = headers["webhook-signature"];
  if (!id || !timestamp || !signature) throw new WebhookVerificationError("missing webhook-id, -timestamp or -signature");
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not Unix seconds");
  // The signature covers the number, re-formatted ("0161..." signs as "161..."), as the reference
  // implementation computes it (standardwebhooks 1.1.1 parses the header and signs the parsed
  // value; a test pins the agreement); signers only ever write the canonical form.
  const seconds = Number(timestamp);
  if (Math.abs(nowSeconds - seconds) > toleranceSeconds) throw new WebhookVerificationError("webhook-timestamp outside tolerance");
  // Compared as base64 text, as the reference implementation does (signers write canonical base64).
  const offered = signature
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => utf8.encode(part.slice(3)));
  for (const secret of secrets) {
    const expected = utf8.encode(sign(parseWebhookSecret(secret), id, seconds, body));
    if (offered.some((candidate) => constantTimeEqual(candidate, expected))) return;
  }
  throw new WebhookVerificationError("no matching signature");
}
