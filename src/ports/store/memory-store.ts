import { PreconditionFailedError } from "./errors.js";
import { contentEtag } from "./etag.js";
import { assertValidCopy, assertValidKey, assertValidPrefix, assertValidPutOptions, listLimit } from "./keys.js";
import type { CopyOptions, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "./store.js";

/**
 * An in-memory Store for tests and single-process use. Each call checks and writes without an
 * intervening await, so conditional writes are atomic within the process. Bodies are copied in
 * and out: callers can never mutate stored bytes.
 */
export class MemoryStore implements Store {
  private readonly objects = new Map<string, StoredObject>();

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    const found = this.objects.get(key);
    return found && { body: found.body.slice(), etag: found.etag };
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    assertValidPutOptions(key, options);
    const current = this.objects.get(key);
    if (options?.ifNoneMatch === "*" && current) throw new PreconditionFailedError(key, "object exists");
    if (options?.ifMatch !== undefined && current?.etag !== options.ifMatch) {
      throw new PreconditionFailedError(key, current ? "ETag changed" : "object does not exist");
    }
    const etag = contentEtag(body);
    this.objects.set(key, { body: body.slice(), etag });
    return { etag };
  }

  async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    assertValidCopy(from, to, options);
    const source = this.objects.get(from);
    if (!source) return undefined;
    if (this.objects.has(to)) throw new PreconditionFailedError(to, "object exists");
    // Stored bodies are never mutated (copied in and out), so the copy can share the bytes.
    this.objects.set(to, source);
    return { etag: source.etag };
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.objects.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidPrefix(prefix);
    const limit = listLimit(options);
    const after = options?.cursor;
    const keys = [...this.objects.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
      .sort();
    const page = keys.slice(0, limit);
    const entries = page.map((key) => ({ key, size: this.objects.get(key)!.body.byteLength }));
    return keys.length > limit ? { entries, cursor: page[page.length - 1]! } : { entries };
  }
}
