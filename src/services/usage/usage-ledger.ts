import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { addUsage, assertUsageRecord, decodeUsageRecord, usageKindOf, usagePrefix, usageStoreKey, type UsageRecord, type UsageTotals, zeroUsageTotals } from "./usage-record.js";

export type { UsageTotals } from "./usage-record.js";

export interface UsageSummary extends UsageTotals {
  /** Distinct inversion jobs with at least one slice in the window. */
  jobs: number;
  byDevice: Record<string, UsageTotals>;
  byKey: Record<string, UsageTotals>;
}

export interface UsageQuery {
  readonly tenantId: string;
  /** Only this key's usage; all of the tenant's keys when absent. */
  readonly keyId?: string;
  /** Inclusive lower bound on recordedAt. */
  readonly from?: Date;
  /** Exclusive upper bound on recordedAt. */
  readonly to?: Date;
}

/** Writes usage records once per (job, slice) and sums them per tenant and key. */
export class UsageLedger {
  constructor(
    private readonly store: Store,
    private readonly pageSize = 1000,
  ) {}

  /**
   * Records a slice's usage. The first record of a (job, slice) wins: a retried slice gets
   * `billed: false` and the record that was billed, whatever it measured itself.
   */
  async record(record: UsageRecord): Promise<{ billed: boolean; record: UsageRecord }> {
    assertUsageRecord(record);
    const key = usageStoreKey(record);
    try {
      await this.store.put(key, new TextEncoder().encode(JSON.stringify(record)), {
        ifNoneMatch: "*",
        contentType: "application/json",
      });
      return { billed: true, record };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const existing = await this.store.get(key);
      if (!existing) throw error; // deleted in between: surface the conflict rather than bill again
      return { billed: false, record: decodeUsageRecord(existing.body) };
    }
  }

  async summarize(query: UsageQuery): Promise<UsageSummary> {
    const summary: UsageSummary = { ...zeroUsageTotals(), jobs: 0, byDevice: {}, byKey: {} };
    const jobs = new Set<string>();
    for await (const record of this.records(query)) {
      const at = Date.parse(record.recordedAt);
      if (query.from && at < query.from.getTime()) continue;
      if (query.to && at >= query.to.getTime()) continue;
      addUsage(summary, record);
      addUsage((summary.byDevice[record.device] ??= zeroUsageTotals()), record);
      addUsage((summary.byKey[record.keyId] ??= zeroUsageTotals()), record);
      if (usageKindOf(record) === "slice") jobs.add(record.jobId);
    }
    summary.jobs = jobs.size;
    return summary;
  }

  private async *records(query: UsageQuery): AsyncGenerator<UsageRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.store.list(usagePrefix(query.tenantId, query.keyId), {
        limit: this.pageSize,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const entry of page.entries) {
        const found = await this.store.get(entry.key);
        if (found) yield decodeUsageRecord(found.body);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }
}
