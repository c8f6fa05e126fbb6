/** Standard Webhooks secrets: "whsec_" + base64 of 24 to 64 random bytes. */
import { fromBase64, toBase64 } from "./hmac-sha256.js";

export const SECRET_PREFIX = "whsec_";
const MIN_BYTES = 24;
const MAX_BYTES = 64;

export class InvalidWebhookSecretError extends Error {
  override readonly name = "InvalidWebhookSecretError";
}

/** Web Crypto's CSPRNG (a global in Node 20 and Workers): a secret must not come from the seeded RNG. */
const secureRandom = (size: number): Uint8Array => crypto.getRandomValues(new Uint8Array(size));

export function generateWebhookSecret(random: (size: number) => Uint8Array = secureRandom): string {
  return SECRET_PREFIX + toBase64(random(32));
}

/** The key bytes of a secret; errors never echo the secret itself. */
export function parseWebhookSecret(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) throw new InvalidWebhookSecretError(`webhook secret must start with "${SECRET_PREFIX}"`);
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new InvalidWebhookSecretError("webhook secret is not valid base64 after the prefix");
  }
  const key = fromBase64(encoded);
  if (key.length < MIN_BYTES || key.length > MAX_BYTES) {
    throw new InvalidWebhookSecretError(`webhook secret must hold ${MIN_BYTES} to ${MAX_BYTES} bytes, has ${key.length}`);
  }
  return key;
}
