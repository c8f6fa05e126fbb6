import type { ListEntry, Store } from "./store.js";

/** Every entry under `prefix`, following the store's pages. */
export async function* listAll(store: Store, prefix: string): AsyncGenerator<ListEntry> {
  let cursor: string | undefined;
  do {
    const page = await store.list(prefix, cursor === undefined ? {} : { cursor });
    yield* page.entries;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

/** Every key under `prefix` (all pages). */
export async function listAllKeys(store: Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of listAll(store, prefix)) keys.push(entry.key);
  return keys;
}
