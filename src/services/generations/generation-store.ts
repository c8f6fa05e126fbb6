/** Reading, creating and advancing generation records (create-only, then If-Match), as JobStore does for jobs. */
import { PreconditionFailedError, type Store } from "../../ports/store/index.js";
import { generationRecordKey, generationRecordSchema, type GenerationRecord } from "./generation-record.js";

export interface VersionedGeneration {
  readonly record: GenerationRecord;
  readonly etag: string;
}

function encode(record: GenerationRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(generationRecordSchema.parse(record)));
}

export class GenerationStore {
  constructor(private readonly store: Store) {}

  async read(tenantId: string, generationId: string): Promise<VersionedGeneration | undefined> {
    const found = await this.store.get(generationRecordKey(tenantId, generationId));
    if (!found) return undefined;
    return { record: generationRecordSchema.parse(JSON.parse(new TextDecoder().decode(found.body))), etag: found.etag };
  }

  /** Creates the record; PreconditionFailedError if one with this id exists. */
  async create(record: GenerationRecord): Promise<VersionedGeneration> {
    const { etag } = await this.store.put(generationRecordKey(record.tenantId, record.id), encode(record), { ifNoneMatch: "*", contentType: "application/json" });
    return { record, etag };
  }

  /** Replaces `current` with `next`; undefined when another writer changed it first. */
  async advance(current: VersionedGeneration, next: GenerationRecord): Promise<VersionedGeneration | undefined> {
    try {
      const { etag } = await this.store.put(generationRecordKey(next.tenantId, next.id), encode(next), { ifMatch: current.etag, contentType: "application/json" });
      return { record: next, etag };
    } catch (error) {
      if (error instanceof PreconditionFailedError) return undefined;
      throw error;
    }
  }
}
