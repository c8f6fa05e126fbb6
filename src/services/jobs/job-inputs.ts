/**
 * A job's own copies of its training images, `jobs/<id>/inputs/<n, 3 digits>`, written when the
 * job is created. Uploads are staging and expire (services/uploads/upload-expiry.ts); the job's
 * copies live until the job ends, so a job never loses its images however long it runs. Records
 * written before copies existed have none and read the uploads.
 *
 * The copies go when the job ends: the recovery sweep deletes the inputs of a succeeded, failed
 * or canceled job before it drops the job's active marker (services/recovery/job-sweeper.ts),
 * and the copies of a create that died before its record once its marker is a day old. Creation
 * writes the marker before the first copy, so every set of copies has one.
 *
 * A copy is written create-only under the job's id. The only writers of one job id's inputs are
 * the requests that hold that id (a fresh random id, or an Idempotency-Key claim for one request
 * body), and they copy the same bytes, so a copy that exists already is accepted when its bytes
 * are equal: a retried create reuses what a failed one wrote.
 *
 * An upload is copied inside the store (Store.copy: S3 CopyObject where the service makes it
 * create-only, a file copy on the filesystem), so its bytes do not pass through the API process.
 */
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { listAllKeys } from "../../ports/store/list-all.js";
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

/** The object to copy is gone (an upload deleted between the check and the copy). */
export class JobInputSourceMissingError extends Error {
  override readonly name = "JobInputSourceMissingError";
  constructor(readonly sourceKey: string) {
    super(`the object ${sourceKey} does not exist`);
  }
}

export type JobInputSource =
  /** An object of the same store (an upload): copied by the store, its bytes never read here. */
  | { readonly key: string }
  /** Bytes from elsewhere (sent with the request). */
  | { readonly bytes: Uint8Array; readonly contentType?: string };

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/**
 * Writes input `index` of the job and verifies it; returns its key. Throws JobInputCopyError
 * when a copy that exists already holds other bytes, JobInputSourceMissingError when the source
 * object is gone.
 */
export async function writeJobInput(store: Store, jobId: string, index: number, source: JobInputSource): Promise<string> {
  const key = jobInputKey(jobId, index);
  return "key" in source ? copyStoredInput(store, jobId, key, source.key) : putSentInput(store, jobId, key, source);
}

/**
 * A copy the store made itself needs no check: no byte passed through this process. A copy that
 * existed (a retried create) must equal the source: equal ETags say so (equal bytes give equal
 * ETags), different ones are settled by the bytes (ETags that are not content hashes: S3 SSE-KMS).
 */
async function copyStoredInput(store: Store, jobId: string, key: string, from: string): Promise<string> {
  try {
    if ((await store.copy(from, key, { ifNoneMatch: "*" })) === undefined) throw new JobInputSourceMissingError(from);
    return key;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const [source, existing] = [await store.get(from), await store.get(key)];
  if (!source) throw new JobInputSourceMissingError(from);
  if (existing && (existing.etag === source.etag || sameBytes(existing.body, source.body))) return key;
  throw new JobInputCopyError(`job "${jobId}": the existing copy ${key} does not hold the bytes of ${from}`);
}

/** Bytes from elsewhere: written create-only, then read back (also when a copy existed) and compared. */
async function putSentInput(store: Store, jobId: string, key: string, source: { bytes: Uint8Array; contentType?: string }): Promise<string> {
  try {
    await store.put(key, source.bytes, { ifNoneMatch: "*", ...(source.contentType ? { contentType: source.contentType } : {}) });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const stored = await store.get(key);
  if (!stored || !sameBytes(stored.body, source.bytes)) throw new JobInputCopyError(`job "${jobId}": the copy ${key} does not hold its source's ${source.bytes.length} bytes`);
  return key;
}

/** Where a job's VAE latent cache lives (encodings of its training images: as private as the images). */
export function jobLatentsPrefix(jobId: string): string {
  return `jobs/${jobId}/latents/`;
}

/** The keys of every input of the job (all pages). */
export function jobInputKeys(store: Store, jobId: string): Promise<string[]> {
  return listAllKeys(store, jobInputsPrefix(jobId));
}

/** The keys of the job's latent cache (all pages). */
export function jobLatentKeys(store: Store, jobId: string): Promise<string[]> {
  return listAllKeys(store, jobLatentsPrefix(jobId));
}

/**
 * Deletes what an ended job keeps of its training images: its input copies and its VAE latent
 * cache (latents decode back to the images). Returns how many objects went; safe to repeat.
 */
export async function deleteJobImageData(store: Store, jobId: string): Promise<number> {
  const keys = [...(await jobInputKeys(store, jobId)), ...(await jobLatentKeys(store, jobId))];
  for (const key of keys) await store.delete(key);
  return keys.length;
}

/**
 * Deletes every input of the job (an ended job, or the copies of a create that never wrote its
 * record); returns how many there were. Safe to repeat.
 */
export async function deleteAllJobInputs(store: Store, jobId: string): Promise<number> {
  const keys = await jobInputKeys(store, jobId);
  for (const key of keys) await store.delete(key);
  return keys.length;
}

/** Deletes the job's first `count` inputs (a create that failed before its record was written). */
export async function deleteJobInputs(store: Store, jobId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.delete(jobInputKey(jobId, i));
}
