import { InvalidKeyError } from "./errors.js";
import { assertValidCopy, assertValidKey, assertValidPrefix } from "./keys.js";
import type { CopyOptions, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "./store.js";

/**
 * A view of a Store under one key prefix, e.g. `tenants/acme/`: code holding it cannot name an
 * object outside, so another tenant's object is simply absent (a 404, not a 403).
 */
export class ScopedStore implements Store {
  private readonly scope: string;

  constructor(
    private readonly inner: Store,
    scope: string,
  ) {
    if (!scope.endsWith("/")) throw new InvalidKeyError(`store scope "${scope}" must end with "/"`);
    assertValidPrefix(scope);
    this.scope = scope;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    return this.inner.get(this.scope + key);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    return this.inner.put(this.scope + key, body, options);
  }

  async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    assertValidCopy(from, to, options);
    return this.inner.copy(this.scope + from, this.scope + to, options);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    return this.inner.delete(this.scope + key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidPrefix(prefix);
    const page = await this.inner.list(this.scope + prefix, options);
    const entries = page.entries.map((entry) => ({ key: entry.key.slice(this.scope.length), size: entry.size }));
    return page.cursor === undefined ? { entries } : { entries, cursor: page.cursor };
  }
}
