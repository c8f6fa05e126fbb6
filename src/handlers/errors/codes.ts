/**
 * Every error code the API answers with, and its HTTP status and title: the one place where
 * codes map to statuses. Codes are stable API surface; titles are fixed per code.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, title: "The request is malformed." },
  validation_failed: { status: 400, title: "The request does not match the schema." },
  unauthorized: { status: 401, title: "A valid API key is required." },
  budget_exhausted: { status: 402, title: "The API key's usage budget is exhausted." },
  forbidden: { status: 403, title: "The API key may not do this." },
  not_found: { status: 404, title: "The resource does not exist." },
  method_not_allowed: { status: 405, title: "The method is not allowed on this resource." },
  conflict: { status: 409, title: "The resource changed or is in a conflicting state." },
  idempotency_key_reused: { status: 409, title: "The Idempotency-Key was used with a different request." },
  payload_too_large: { status: 413, title: "The request body is too large." },
  unsupported_media_type: { status: 415, title: "The request's content type is not supported." },
  invalid_input: { status: 422, title: "The request is well-formed but its content is unusable." },
  unknown_model: { status: 422, title: "The model is not served here." },
  upload_missing: { status: 422, title: "An upload the request names does not exist." },
  invalid_image: { status: 422, title: "An image cannot be used for training." },
  invalid_token: { status: 422, title: "The placeholder or initializer token cannot be used with this model." },
  rate_limited: { status: 429, title: "Too many requests." },
  internal_error: { status: 500, title: "An unexpected error occurred." },
  not_available_on_edge: { status: 501, title: "This deployment does not serve this route." },
  service_unavailable: { status: 503, title: "The service is temporarily unavailable." },
} as const satisfies Record<string, { readonly status: number; readonly title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function statusOf(code: ErrorCode): (typeof ERROR_CODES)[ErrorCode]["status"] {
  return ERROR_CODES[code].status;
}

/** The code for a status raised outside our code (e.g. Hono's HTTPException). */
export function codeForStatus(status: number): ErrorCode {
  const exact = ERROR_CODE_LIST.find((code) => ERROR_CODES[code].status === status);
  if (exact) return exact;
  return status >= 400 && status < 500 ? "bad_request" : "internal_error";
}
