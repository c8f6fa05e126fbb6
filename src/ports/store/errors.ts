/** Typed failures of the Store port; messages name the key, never credentials. */

export class StoreError extends Error {
  override readonly name: string = "StoreError";
  readonly key: string | undefined;
  constructor(message: string, key?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.key = key;
  }
}

/** A conditional write lost: the object exists (create-only) or its ETag changed (If-Match). */
export class PreconditionFailedError extends StoreError {
  override readonly name = "PreconditionFailedError";
  constructor(key: string, condition: string, options?: { cause?: unknown }) {
    super(`precondition failed for "${key}": ${condition}`, key, options);
  }
}

/** The key is not one the Store accepts (see keys.ts). */
export class InvalidKeyError extends StoreError {
  override readonly name = "InvalidKeyError";
}

/** The options of a call contradict each other or are out of range. */
export class InvalidStoreRequestError extends StoreError {
  override readonly name = "InvalidStoreRequestError";
}
