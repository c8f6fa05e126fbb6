export {
  claimIdempotencyKey,
  findIdempotencyClaim,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyReusedError,
  requestHash,
  type IdempotencyClaim,
} from "./idempotency-key.js";
