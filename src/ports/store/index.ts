export type { CopyOptions, ListEntry, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "./store.js";
export { StoreError, PreconditionFailedError, InvalidKeyError, InvalidStoreRequestError } from "./errors.js";
export { assertValidKey, MAX_KEY_LENGTH } from "./keys.js";
export { MemoryStore } from "./memory-store.js";
export { FsStore, type FsStoreOptions } from "./fs-store.js";
export { S3Store, type S3StoreOptions } from "./s3-store.js";
export { ScopedStore } from "./scoped-store.js";
export { listAll, listAllKeys } from "./list-all.js";
