/**
 * The contract of the creation-time checks of a textual_inversion request (training-inputs.ts
 * implements it with the engine, on Node). Free of the engine, so the control plane can name
 * the errors in a deployment without the checker (Workers), where the first slice checks.
 */

/** Why the inputs were refused; each code is also an API error code (422). */
export type TrainingInputCode = "unknown_model" | "upload_missing" | "invalid_image" | "invalid_token";

export class TrainingInputError extends Error {
  override readonly name = "TrainingInputError";
  constructor(
    readonly code: TrainingInputCode,
    message: string,
  ) {
    super(message);
  }
}

export interface TrainingInputs {
  readonly tenantId: string;
  readonly model: string;
  readonly placeholderToken: string;
  readonly initializerToken: string;
  readonly numVectors: number;
  /** Upload ids, in order. */
  readonly images: readonly string[];
}

export interface TrainingInputCheck {
  /** Resolves when the inputs are usable; throws TrainingInputError otherwise; writes nothing. */
  check(inputs: TrainingInputs, inline?: readonly Uint8Array[]): Promise<void>;
}
