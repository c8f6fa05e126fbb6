/**
 * Idempotency-Key: the first request with a key claims it (create-only object naming the job
 * id and the request's hash); a repeat with the same body gets the same job, a repeat with a
 * different body is refused. The claim is written before the job, so a request that died
 * half-way is finished by its retry (every later write is create-only or harmless to repeat).
 */
import { createHash } from "node:crypto";
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { stringifyExact } from "../../core/io/exact-json.js";

export interface IdempotencyClaim {
  /** The id of what the request created: a job, or a generation (POST /v1/generations). */
  readonly jobId: string;
  readonly requestHash: string;
}

export class IdempotencyKeyReusedError extends Error {
  override readonly name = "IdempotencyKeyReusedError";
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function requestHash(body: unknown): string {
  return createHash("sha256").update(stringifyExact(body)).digest("hex");
}

function claimKey(tenantId: string, idempotencyKey: string): string {
  // Hashed: client keys may hold characters that Store keys do not allow.
  return `tenants/${tenantId}/idempotency/${createHash("sha256").update(idempotencyKey).digest("hex")}`;
}

/**
 * Claims the key for `proposed`, or returns the earlier claim when the same request was made
 * before; throws IdempotencyKeyReusedError when the key was used for a different request.
 */
export async function claimIdempotencyKey(store: Store, tenantId: string, idempotencyKey: string, proposed: IdempotencyClaim): Promise<IdempotencyClaim> {
  const key = claimKey(tenantId, idempotencyKey);
  try {
    await store.put(key, new TextEncoder().encode(JSON.stringify(proposed)), { ifNoneMatch: "*", contentType: "application/json" });
    return proposed;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const found = await store.get(key);
  if (!found) throw new Error(`idempotency claim ${key} vanished after a create conflict`);
  const earlier = JSON.parse(new TextDecoder().decode(found.body)) as IdempotencyClaim;
  if (earlier.requestHash !== proposed.requestHash) {
    throw new IdempotencyKeyReusedError("this Idempotency-Key was already used with a different request body");
  }
  return earlier;
}
