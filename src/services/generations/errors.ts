/**
 * What a generation request can get wrong, as typed errors the handlers map to problem codes.
 * Kept apart from the service (which runs the engine) so the shared error mapping
 * (handlers/service-errors.ts) imports nothing that needs Node.
 */

/** The request cannot work with this job (e.g. the prompt lacks its token): 422. */
export class GenerationInputError extends Error {
  override readonly name = "GenerationInputError";
}

/** The job is not (or no longer) usable for generation: 409. */
export class GenerationConflictError extends Error {
  override readonly name = "GenerationConflictError";
}

/** The named inversion does not exist for the caller: 404. */
export class InversionNotFoundError extends Error {
  override readonly name = "InversionNotFoundError";
}
