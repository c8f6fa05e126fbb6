import { DispatchError, DispatcherClosedError } from "../ports/dispatcher/dispatcher.js";
import { IdempotencyKeyReusedError } from "../services/idempotency/index.js";
import { InversionInputError, JobConflictError } from "../services/inversions/inversion-service.js";
import { TrainingInputError } from "../services/inversions/training-input-error.js";
import { BudgetExhaustedError } from "../services/usage/budget.js";
import { GenerationConflictError, GenerationInputError, InversionNotFoundError } from "../services/generations/errors.js";
import { ApiError } from "./errors/index.js";
import { PreconditionFailedError } from "../ports/store/errors.js";

/** Service failures clients can act on, as API errors; anything else is rethrown (a 500). */
export function toApiError(error: unknown): never {
  if (error instanceof InversionInputError) throw new ApiError("invalid_input", error.message, { cause: error });
  if (error instanceof TrainingInputError) throw new ApiError(error.code, error.message, { cause: error });
  if (error instanceof IdempotencyKeyReusedError) throw new ApiError("idempotency_key_reused", error.message, { cause: error });
  if (error instanceof BudgetExhaustedError) throw new ApiError("budget_exhausted", error.message, { cause: error });
  if (error instanceof GenerationInputError) throw new ApiError("invalid_input", error.message, { cause: error });
  if (error instanceof InversionNotFoundError) throw new ApiError("not_found", error.message, { cause: error });
  if (error instanceof GenerationConflictError || error instanceof JobConflictError) throw new ApiError("conflict", error.message, { cause: error });
  if (error instanceof PreconditionFailedError) throw new ApiError("conflict", "The resource kept changing; try again.", { cause: error });
  if (error instanceof DispatchError || error instanceof DispatcherClosedError) {
    throw new ApiError("service_unavailable", "The job was stored but could not be started; retry with the same Idempotency-Key.", { cause: error });
  }
  throw error;
}
