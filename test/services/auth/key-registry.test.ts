import { describe, expect, it } from "vitest";
import { MemoryStore, PreconditionFailedError, type Store } from "../../../src/ports/store/index.js";
import { ApiKeyRegistry, hashApiKey, InvalidTenantIdError } from "../../../src/services/auth/index.js";

const fixedClock = () => new Date("2026-01-02T03:04:05Z");

describe("ApiKeyRegistry", () => {
  it("stores only the key's hash and finds the tenant from the key", async () => {
    const store = new MemoryStore();
    const registry = new ApiKeyRegistry(store, fixedClock);
    const { key, record } = await registry.issue("acme", "ci key");
    expect(record).toEqual({ keyId: record.keyId, tenantId: "acme", name: "ci key", createdAt: "2026-01-02T03:04:05.000Z" });
    const stored = await store.list("api-keys/");
    expect(stored.entries.map((e) => e.key)).toEqual([`api-keys/${hashApiKey(key)}`]);
    const body = new TextDecoder().decode((await store.get(stored.entries[0]!.key))!.body);
    expect(body).not.toContain(key);
    expect(body).not.toContain(key.slice(3));
    expect(await registry.authenticate(key)).toEqual({ tenantId: "acme", keyId: record.keyId });
  });

  it("answers undefined for unknown and malformed keys, without reading the store for the latter", async () => {
    const store = new MemoryStore();
    let reads = 0;
    const counting: Store = { ...store, get: (k) => (reads++, store.get(k)), put: store.put.bind(store), delete: store.delete.bind(store), list: store.list.bind(store), copy: store.copy.bind(store) };
    const registry = new ApiKeyRegistry(counting);
    await registry.issue("acme", "k");
    expect(await registry.authenticate("sk_" + "x".repeat(43))).toBeUndefined();
    expect(reads).toBe(1);
    expect(await registry.authenticate("not a key")).toBeUndefined();
    expect(reads).toBe(1);
  });

  it("revokes keys, and revoked keys no longer authenticate", async () => {
    const registry = new ApiKeyRegistry(new MemoryStore(), fixedClock);
    const a = await registry.issue("acme", "a");
    const b = await registry.issue("acme", "b");
    expect(await registry.revoke(a.key)).toBe(true);
    expect(await registry.authenticate(a.key)).toBeUndefined();
    expect(await registry.authenticate(b.key)).toEqual({ tenantId: "acme", keyId: b.record.keyId });
    expect(await registry.revoke("sk_" + "y".repeat(43))).toBe(false);
  });

  it("never issues the same key twice and validates tenant ids", async () => {
    const registry = new ApiKeyRegistry(new MemoryStore());
    const key = "sk_" + "d".repeat(43);
    await registry.issue("acme", "dev", key);
    await expect(registry.issue("other", "dev", key)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await registry.authenticate(key))?.tenantId).toBe("acme");
    await expect(registry.issue("Bad/Tenant", "x")).rejects.toBeInstanceOf(InvalidTenantIdError);
  });

  it("finds a key's record by its public id (slices know only the id), and nothing for others", async () => {
    const registry = new ApiKeyRegistry(new MemoryStore(), fixedClock);
    const a = await registry.issue("acme", "a", undefined, { budgetSeconds: 30 });
    const b = await registry.issue("acme", "b");
    expect(await registry.findByKeyId(a.record.keyId)).toEqual(a.record);
    expect(await registry.findByKeyId(b.record.keyId)).toEqual(b.record);
    expect(await registry.findByKeyId("key_0000000000000000")).toBeUndefined();
    expect(await registry.findByKeyId("not-a-key-id")).toBeUndefined();
  });
});
