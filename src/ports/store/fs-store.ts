import type { Dirent } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PreconditionFailedError, StoreError } from "./errors.js";
import { contentEtag } from "./etag.js";
import {
  headSize,
  isCode,
  publishVersion,
  readHead,
  releaseOlderVersions,
  removeStaged,
  stageCopyOfHead,
  stageVersion,
  type Head,
} from "./fs-versions.js";
import { assertValidCopy, assertValidKey, assertValidPrefix, assertValidPutOptions, listLimit } from "./keys.js";
import type { CopyOptions, ListEntry, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "./store.js";

export interface FsStoreOptions {
  /** The directory holding the objects (created on first write). */
  readonly root: string;
  /** fsync each version and its directory before a write returns (default true). */
  readonly fsync?: boolean;
}

/** Unconditional writers retry a lost publish; this many losses in a row means something is wrong. */
const MAX_UNCONDITIONAL_ATTEMPTS = 1000;
const OBJECT_DIR_SUFFIX = "~";

/**
 * The embedded Store: objects in a directory tree, safe for concurrent writers in one process
 * and across processes on one machine (see fs-versions.ts for how). Key "a/b" lives in the
 * directory `root/a/b~/`, so "a/b" and "a/b/c" can both exist, as on S3.
 */
export class FsStore implements Store {
  private readonly root: string;
  private readonly fsync: boolean;

  constructor(options: FsStoreOptions) {
    this.root = resolve(options.root);
    this.fsync = options.fsync ?? true;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    const head = await readHead(this.objectDir(key));
    return head.state === "present" ? { body: head.body, etag: contentEtag(head.body) } : undefined;
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    assertValidPutOptions(key, options);
    const conditional = options?.ifMatch !== undefined || options?.ifNoneMatch !== undefined;
    await this.write(key, body, (head) => {
      if (options?.ifNoneMatch === "*" && head.state === "present") {
        throw new PreconditionFailedError(key, "object exists");
      }
      if (options?.ifMatch !== undefined) {
        if (head.state !== "present") throw new PreconditionFailedError(key, "object does not exist");
        if (contentEtag(head.body) !== options.ifMatch) throw new PreconditionFailedError(key, "ETag changed");
      }
    }, conditional);
    return { etag: contentEtag(body) };
  }

  /** Stages a copy of `from`'s current version file in `to`'s directory, then publishes it create-only, as `put` does. */
  async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    assertValidCopy(from, to, options);
    const dir = this.objectDir(to);
    // Refused before the bytes are copied when the target is there already (a retried create).
    if ((await headSize(dir)) !== undefined) throw new PreconditionFailedError(to, "object exists");
    await mkdir(dir, { recursive: true });
    const staged = await stageCopyOfHead(this.objectDir(from), dir, this.fsync);
    if (!staged) return undefined;
    await this.publish(to, dir, staged.path, (head) => {
      if (head.state === "present") throw new PreconditionFailedError(to, "object exists");
    }, true);
    return { etag: staged.etag };
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const head = await readHead(this.objectDir(key));
    if (head.state !== "present") return;
    await this.write(key, undefined, () => {}, false);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidPrefix(prefix);
    const limit = listLimit(options);
    const after = options?.cursor;
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const candidates: { key: string; dir: string }[] = [];
    await this.collect(base, join(this.root, base), prefix, candidates);
    candidates.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const entries: ListEntry[] = [];
    for (const { key, dir } of candidates) {
      if (after !== undefined && key <= after) continue;
      const size = await headSize(dir);
      if (size === undefined) continue; // deleted
      if (entries.length === limit) return { entries, cursor: entries[entries.length - 1]!.key };
      entries.push({ key, size });
    }
    return { entries };
  }

  /** Stages the new version once, then publishes it. */
  private async write(key: string, body: Uint8Array | undefined, check: (head: Head) => void, conditional: boolean) {
    const dir = this.objectDir(key);
    await mkdir(dir, { recursive: true });
    await this.publish(key, dir, await stageVersion(dir, body, this.fsync), check, conditional);
  }

  /** Publishes a staged version file as head+1 after `check` accepts the head; removes the staged file. */
  private async publish(key: string, dir: string, staged: string, check: (head: Head) => void, conditional: boolean) {
    try {
      for (let attempt = 0; attempt < MAX_UNCONDITIONAL_ATTEMPTS; attempt++) {
        const head = await readHead(dir);
        check(head);
        if (await publishVersion(dir, staged, head.version + 1, this.fsync)) {
          await releaseOlderVersions(dir, head.version + 1);
          return;
        }
        if (conditional) throw new PreconditionFailedError(key, "a concurrent write won");
      }
      throw new StoreError(`write to "${key}" lost ${MAX_UNCONDITIONAL_ATTEMPTS} races in a row`, key);
    } finally {
      await removeStaged(staged);
    }
  }

  /** Walks `dir` (the directory of key prefix `keyBase`) collecting object dirs under `prefix`. */
  private async collect(keyBase: string, dir: string, prefix: string, out: { key: string; dir: string }[]) {
    let children: Dirent[];
    try {
      children = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, "ENOENT")) return;
      throw error;
    }
    for (const child of children) {
      const name = child.name;
      if (!child.isDirectory()) continue;
      if (name.endsWith(OBJECT_DIR_SUFFIX)) {
        const key = keyBase + name.slice(0, -OBJECT_DIR_SUFFIX.length);
        if (key.startsWith(prefix)) out.push({ key, dir: join(dir, name) });
      } else {
        const sub = `${keyBase}${name}/`;
        // Descend only where keys under `sub` can still match the prefix.
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.collect(sub, join(dir, name), prefix, out);
      }
    }
  }

  private objectDir(key: string): string {
    return join(this.root, ...key.split("/")) + OBJECT_DIR_SUFFIX;
  }
}
