/**
 * The Store port: a narrow object store (the subset of S3 this project needs).
 *
 * Every piece of state (job records, inputs, checkpoints, outputs, usage records) is an object.
 * Writers fence each other with conditional writes instead of locks:
 * - `ifNoneMatch: "*"` creates the object only if it does not exist;
 * - `ifMatch: etag` replaces it only if its current ETag is `etag` (compare-and-swap).
 * `copy` is create-only too: it writes another object's bytes under a new key without handing
 * them to the caller (a server-side copy where the backend can make it create-only).
 * A lost race rejects with `PreconditionFailedError` and changes nothing.
 * Semantics shared by every implementation are documented in docs/STORE.md.
 */

/** An object's bytes and its ETag (opaque; equal bytes give equal ETags). */
export interface StoredObject {
  readonly body: Uint8Array;
  readonly etag: string;
}

export interface PutOptions {
  /** Create only: fail if the object exists. */
  readonly ifNoneMatch?: "*";
  /** Compare-and-swap: fail unless the object exists with this ETag. */
  readonly ifMatch?: string;
  /** Stored with the object where the backend keeps it (S3); informational. */
  readonly contentType?: string;
}

export interface PutResult {
  readonly etag: string;
}

/** Copies are create-only: the only copy the services need is into a key nobody else writes. */
export interface CopyOptions {
  readonly ifNoneMatch: "*";
}

export interface ListOptions {
  /** At most this many keys per page (1..1000, default 1000). */
  readonly limit?: number;
  /** The `cursor` of the previous page. */
  readonly cursor?: string;
}

export interface ListEntry {
  readonly key: string;
  readonly size: number;
}

export interface ListPage {
  /** Keys in ascending byte order. */
  readonly entries: readonly ListEntry[];
  /** Present when more keys may follow; pass it back to get the next page. */
  readonly cursor?: string;
}

export interface Store {
  /** The object, or undefined when it does not exist. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Writes the whole object atomically; readers see the old or the new bytes, never a mix. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult>;
  /**
   * Writes the current bytes of `from` as the new object `to` (atomically, as `put`); `to` keeps
   * `from`'s content type where the backend stores one. Resolves to the copy's ETag, or undefined
   * when `from` does not exist (nothing is written). Fails with PreconditionFailedError, writing
   * nothing, when `to` exists.
   */
  copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined>;
  /** Removes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** One page of the objects whose keys start with `prefix`. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
}

export const DEFAULT_LIST_LIMIT = 1000;
