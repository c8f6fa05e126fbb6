/**
 * A job's own copies of its training images, `jobs/<id>/inputs/<n, 3 digits>`, written when the
 * job is created. Uploads are staging and expire (services/uploads/upload-expiry.ts); the job's
 * copies live as long as the job's other objects, so a job never loses its images however long
 * it runs. Records written before copies existed have none and read the uploads.
 *
 * A copy is written create-only under the job's id. The only writers of one job id's inputs are
 * the requests that hold that id (a fresh random id, or an Idempotency-Key claim for one request
 * body), and they copy the same bytes, so a copy that exists already is accepted when its bytes
 * are equal: a retried create reuses what a failed one wrote.
 */
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { jobPrefix } from "./job-store.js";

export function jobInputsPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}inputs/`;
}

export function jobInputKey(jobId: string, index: number): string {
  return `${jobInputsPrefix(jobId)}${String(index).padStart(3, "0")}`;
}

/** A copy that did not come out equal to its source (or a different object under its key). */
export class JobInputCopyError extends Error {
  override readonly name = "JobInputCopyError";
}

export interface JobInputSource {
  readonly bytes: Uint8Array;
  /** The source object's ETag when it was read from this store: equal bytes give equal ETags, so a matching put needs no read-back. */
  readonly etag?: string;
  readonly contentType?: string;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/**
 * Writes input `index` of the job and verifies it (its ETag equals the source's, or the stored
 * bytes equal the source's); returns its key. Throws JobInputCopyError when it cannot verify.
 */
export async function writeJobInput(store: Store, jobId: string, index: number, source: JobInputSource): Promise<string> {
  const key = jobInputKey(jobId, index);
  try {
    const { etag } = await store.put(key, source.bytes, { ifNoneMatch: "*", ...(source.contentType ? { contentType: source.contentType } : {}) });
    if (source.etag !== undefined && etag === source.etag) return key;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  // Read back: the backend's ETags are not content hashes (S3 with SSE-KMS), the source was not
  // read from the store, or a copy existed (a retried create) and must hold the same bytes.
  const stored = await store.get(key);
  if (!stored || !sameBytes(stored.body, source.bytes)) throw new JobInputCopyError(`job "${jobId}": the copy ${key} does not hold its source's ${source.bytes.length} bytes`);
  return key;
}

/** Deletes the job's first `count` inputs (a create that failed before its record was written). */
export async function deleteJobInputs(store: Store, jobId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.delete(jobInputKey(jobId, i));
}
