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

/** An image sent with the request itself (multipart), not as an upload. */
export interface InlineImage {
  readonly bytes: Uint8Array;
  /** How errors name it, as the client sent it: the form part, e.g. `images[2] ("cat.png")`. */
  readonly label: string;
}

export interface TrainingInputCheck {
  /**
   * Resolves when the inputs are usable; throws TrainingInputError otherwise; writes nothing.
   * `inline`: one image per entry of `inputs.images`, checked instead of reading those uploads.
   */
  check(inputs: TrainingInputs, inline?: readonly InlineImage[]): Promise<void>;
}
