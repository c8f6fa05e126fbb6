import { InvalidKeyError, InvalidStoreRequestError } from "./errors.js";
import { DEFAULT_LIST_LIMIT, type CopyOptions, type ListOptions, type PutOptions } from "./store.js";

/**
 * Keys are "/"-separated segments of [A-Za-z0-9._=-], at most 512 characters, with no empty,
 * "." or ".." segment. The same rule holds for every backend, so a key that works in the
 * embedded filesystem store works on S3 and cannot escape the store's directory. "~" is
 * deliberately excluded: the filesystem store uses it for its own file names.
 */
const SEGMENT = /^[A-Za-z0-9._=-]+$/;
export const MAX_KEY_LENGTH = 512;

export function assertValidKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw new InvalidKeyError("store key is empty", String(key));
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`store key longer than ${MAX_KEY_LENGTH} characters`, key);
  for (const segment of key.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidKeyError(`store key "${key}" has an empty, "." or ".." segment`, key);
    }
    if (!SEGMENT.test(segment)) {
      throw new InvalidKeyError(`store key "${key}" has characters outside [A-Za-z0-9._=-/]`, key);
    }
  }
}

/** A prefix is any leading part of a valid key (it may end with "/" or mid-segment), or "". */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  // "a/b/" ends with whole segments, which must be valid; "a/." may still grow into "a/.x".
  if (prefix.endsWith("/")) assertValidKey(prefix.slice(0, -1));
  else assertValidKey(prefix.endsWith(".") ? `${prefix}x` : prefix);
}

export function assertValidPutOptions(key: string, options: PutOptions | undefined): void {
  if (options?.ifMatch !== undefined && options.ifNoneMatch !== undefined) {
    throw new InvalidStoreRequestError(`put "${key}": ifMatch and ifNoneMatch are exclusive`, key);
  }
  if (options?.ifNoneMatch !== undefined && options.ifNoneMatch !== "*") {
    throw new InvalidStoreRequestError(`put "${key}": ifNoneMatch must be "*"`, key);
  }
  if (options?.ifMatch !== undefined && options.ifMatch.length === 0) {
    throw new InvalidStoreRequestError(`put "${key}": ifMatch is an empty ETag`, key);
  }
}

export function assertValidCopy(from: string, to: string, options: CopyOptions | undefined): void {
  assertValidKey(from);
  assertValidKey(to);
  if (options?.ifNoneMatch !== "*") throw new InvalidStoreRequestError(`copy to "${to}": copies are create-only, pass ifNoneMatch "*"`, to);
}

export function listLimit(options: ListOptions | undefined): number {
  const limit = options?.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > DEFAULT_LIST_LIMIT) {
    throw new InvalidStoreRequestError(`list limit must be an integer in 1..${DEFAULT_LIST_LIMIT}, got ${limit}`);
  }
  return limit;
}
