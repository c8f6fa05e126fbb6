import { createHash, randomBytes } from "node:crypto";

/**
 * API keys are Bearer tokens "sk_" + 43 base64url characters (32 random bytes). The service
 * keeps only their SHA-256: a leaked store does not leak usable keys, and a key's record is
 * found by hashing what the client sent (no comparison against stored secrets).
 */
export const API_KEY_PREFIX = "sk_";
const API_KEY_SHAPE = /^sk_[A-Za-z0-9_-]{16,128}$/;

export function generateApiKey(random: (size: number) => Uint8Array = randomBytes): string {
  return API_KEY_PREFIX + Buffer.from(random(32)).toString("base64url");
}

/** Whether the text has the shape of an API key (cheap rejection before any lookup). */
export function looksLikeApiKey(text: string): boolean {
  return API_KEY_SHAPE.test(text);
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** The public id of a key (safe to show and log): derived from its hash, not the key. */
export function apiKeyId(keyHash: string): string {
  return `key_${keyHash.slice(0, 16)}`;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer[ ]+(\S+)[ ]*$/i);
  return match?.[1];
}
