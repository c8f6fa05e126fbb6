/**
 * Idempotency-Key, shared by POST /v1/inversions and POST /v1/generations: the first request with
 * a key claims it (create-only object naming the id of what it creates, a job or a generation,
 * and the request's hash); a repeat with the same body gets the same resource, a repeat with a
 * different body is refused. The claim is written before the job, so a request that died
 * half-way is finished by its retry (every later write is create-only or harmless to repeat).
 * A service looks the key up (findIdempotencyClaim) before its other checks, so a replay gets
 * the original answer even when those checks would now refuse the request.
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
 * The earlier claim of this key when it was made for the same request (hash), undefined when the
 * key is unclaimed; IdempotencyKeyReusedError when it was claimed for a different request.
 */
export async function findIdempotencyClaim(store: Store, tenantId: string, idempotencyKey: string, hash: string): Promise<IdempotencyClaim | undefined> {
  const found = await store.get(claimKey(tenantId, idempotencyKey));
  if (!found) return undefined;
  const earlier = JSON.parse(new TextDecoder().decode(found.body)) as IdempotencyClaim;
  if (earlier.requestHash !== hash) throw new IdempotencyKeyReusedError("this Idempotency-Key was already used with a different request body");
  return earlier;
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
  const earlier = await findIdempotencyClaim(store, tenantId, idempotencyKey, proposed.requestHash);
  if (!earlier) throw new Error(`idempotency claim ${key} vanished after a create conflict`);
  return earlier;
}
