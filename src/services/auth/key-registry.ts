import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { apiKeyId, generateApiKey, hashApiKey, looksLikeApiKey } from "./api-key.js";
import { assertTenantId, type Principal } from "./tenant.js";

/** What the Store holds for one key, at `api-keys/<sha256 of the key>`. Never the key itself. */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly tenantId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
  /** Device seconds this key may use; new jobs are refused once its usage reaches it. */
  readonly budgetSeconds?: number;
}

export interface IssueOptions {
  readonly budgetSeconds?: number;
}

export class CorruptApiKeyRecordError extends Error {
  override readonly name = "CorruptApiKeyRecordError";
}

const recordKey = (keyHash: string) => `api-keys/${keyHash}`;

/** Issues, looks up and revokes API keys through the Store. */
export class ApiKeyRegistry {
  constructor(
    private readonly store: Store,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Creates a key for a tenant; the plaintext key is returned once and never stored. */
  async issue(tenantId: string, name: string, key: string = generateApiKey(), options: IssueOptions = {}): Promise<{ key: string; record: ApiKeyRecord }> {
    assertTenantId(tenantId);
    if (!looksLikeApiKey(key)) throw new Error("refusing to issue a key that does not look like sk_...");
    const budget = options.budgetSeconds;
    if (budget !== undefined && !(Number.isFinite(budget) && budget >= 0)) throw new RangeError(`budgetSeconds must be a finite number >= 0, got ${budget}`);
    const keyHash = hashApiKey(key);
    const record: ApiKeyRecord = {
      keyId: apiKeyId(keyHash),
      tenantId,
      name,
      createdAt: this.clock().toISOString(),
      ...(budget === undefined ? {} : { budgetSeconds: budget }),
    };
    await this.store.put(recordKey(keyHash), encode(record), { ifNoneMatch: "*", contentType: "application/json" });
    return { key, record };
  }

  /** The principal for a presented key, or undefined when unknown, malformed or revoked. */
  async authenticate(key: string): Promise<Principal | undefined> {
    if (!looksLikeApiKey(key)) return undefined;
    const found = await this.store.get(recordKey(hashApiKey(key)));
    if (!found) return undefined;
    const record = decode(found.body);
    if (record.revokedAt !== undefined) return undefined;
    return { tenantId: record.tenantId, keyId: record.keyId, ...(record.budgetSeconds === undefined ? {} : { budgetSeconds: record.budgetSeconds }) };
  }

  /**
   * The record of the key with this public id (`key_` + the first 16 hex digits of its hash):
   * one listing of that hash prefix. Slices use it, since a job names only its key's id.
   */
  async findByKeyId(keyId: string): Promise<ApiKeyRecord | undefined> {
    const match = /^key_([0-9a-f]{16})$/.exec(keyId);
    if (!match) return undefined;
    const page = await this.store.list(recordKey(match[1]!), { limit: 10 });
    for (const entry of page.entries) {
      const found = await this.store.get(entry.key);
      if (!found) continue;
      const record = decode(found.body);
      if (record.keyId === keyId) return record;
    }
    return undefined;
  }

  /** Revokes a key (by its plaintext, as presented by its owner); false when unknown. */
  async revoke(key: string): Promise<boolean> {
    const storeKey = recordKey(hashApiKey(key));
    for (;;) {
      const found = await this.store.get(storeKey);
      if (!found) return false;
      const record = decode(found.body);
      if (record.revokedAt !== undefined) return true;
      const revoked: ApiKeyRecord = { ...record, revokedAt: this.clock().toISOString() };
      try {
        await this.store.put(storeKey, encode(revoked), { ifMatch: found.etag, contentType: "application/json" });
        return true;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
  }
}

function encode(record: ApiKeyRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

function decode(body: Uint8Array): ApiKeyRecord {
  const value = JSON.parse(new TextDecoder().decode(body)) as Partial<ApiKeyRecord>;
  if (typeof value.tenantId !== "string" || typeof value.keyId !== "string") {
    throw new CorruptApiKeyRecordError("API key record lacks tenantId or keyId");
  }
  if (value.budgetSeconds !== undefined && !(typeof value.budgetSeconds === "number" && value.budgetSeconds >= 0)) {
    throw new CorruptApiKeyRecordError(`API key record ${value.keyId} has an invalid budgetSeconds`);
  }
  return value as ApiKeyRecord;
}
