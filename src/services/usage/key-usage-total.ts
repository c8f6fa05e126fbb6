/**
 * A key's all-time usage for budget checks, without reading every usage record on every slice.
 *
 * The ledger is a set, not a log: one create-only object per (job, slice), keyed
 * `usage/<t>/<key>/<job>/<slice>`, written by concurrent jobs in any order, so "the records after
 * the last one counted" is not a place in the listing (a new slice of an old job sorts before a
 * newer job's records). The listing stays the source of truth; the summary only remembers which
 * records it has already added up:
 *
 *   `usage-totals/<t>/<key>.json` = { totals, records (how many), counted: {job: [[from, to], ...]} }
 *
 * A read lists the key's records (one request per 1000), reads only the ones the summary has not
 * counted (after a slice: one), and writes the grown summary back with If-Match / If-None-Match
 * (a lost race or a failed write only means the next read counts those records again). Records are
 * immutable, so a counted record never changes; if one the summary counted is no longer listed
 * (deleted), the summary is dropped and everything is counted again. Nothing writers do is
 * involved, so no crash between two writes can make the total miss a record.
 */
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import { listAll } from "../../ports/store/list-all.js";
import { addUsage, decodeUsageRecord, usagePrefix, type UsageTotals, zeroUsageTotals } from "./usage-record.js";

type Ranges = Array<[from: number, to: number]>;

interface KeyUsageSummary {
  readonly version: 1;
  readonly totals: UsageTotals;
  /** Records counted in `totals` (all of them listed in `counted`). */
  readonly records: number;
  /** Slices counted per job, as sorted inclusive ranges (one range for a job's usual 0..n). */
  readonly counted: Record<string, Ranges>;
}

export function keyUsageSummaryKey(tenantId: string, keyId: string): string {
  return `usage-totals/${tenantId}/${keyId}.json`;
}

/** The key's totals over every usage record it has, all time (equal to summing them all). */
export async function keyUsageTotals(store: Store, tenantId: string, keyId: string): Promise<UsageTotals> {
  const summaryKey = keyUsageSummaryKey(tenantId, keyId);
  const stored = await store.get(summaryKey);
  const listed = await listRecords(store, usagePrefix(tenantId, keyId));
  let base = stored ? decodeSummary(stored.body) : undefined;
  // A counted record that is no longer listed (deleted): the summary no longer describes the ledger.
  const baseCounted = new Map(Object.entries(base?.counted ?? {}));
  if (base && listed.filter((r) => contains(baseCounted.get(r.jobId), r.slice)).length !== base.records) {
    base = undefined;
    baseCounted.clear();
  }

  const totals = { ...(base?.totals ?? zeroUsageTotals()) };
  const counted = baseCounted;
  let records = base?.records ?? 0;
  for (const { key, jobId, slice } of listed) {
    if (contains(counted.get(jobId), slice)) continue;
    const found = await store.get(key);
    if (!found) continue; // deleted since the listing: not part of the ledger any more
    addUsage(totals, decodeUsageRecord(found.body));
    counted.set(jobId, insert(counted.get(jobId) ?? [], slice));
    records += 1;
  }
  if (base === undefined || records !== base.records) {
    // Object.fromEntries defines own properties, whatever the job ids are called. Fields a newer
    // release added to the summary are kept (docs/STORE.md, "Compatibility"); a summary rebuilt
    // from nothing (base dropped above) starts without them.
    const next: KeyUsageSummary = { ...base, version: 1, totals, records, counted: Object.fromEntries(counted) };
    try {
      await store.put(summaryKey, new TextEncoder().encode(JSON.stringify(next)), {
        ...(stored ? { ifMatch: stored.etag } : { ifNoneMatch: "*" }),
        contentType: "application/json",
      });
    } catch (error) {
      // Another reader moved the summary first; ours is still a correct answer for this read.
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  return totals;
}

async function listRecords(store: Store, prefix: string): Promise<Array<{ key: string; jobId: string; slice: number }>> {
  const out: Array<{ key: string; jobId: string; slice: number }> = [];
  for await (const entry of listAll(store, prefix)) {
    const address = parseRecordKey(entry.key.slice(prefix.length));
    if (address) out.push({ key: entry.key, ...address });
  }
  return out;
}

function parseRecordKey(rest: string): { jobId: string; slice: number } | undefined {
  const match = /^([^/]+)\/(\d+)$/.exec(rest);
  return match ? { jobId: match[1]!, slice: Number(match[2]) } : undefined;
}

function contains(ranges: Ranges | undefined, slice: number): boolean {
  return ranges?.some(([from, to]) => from <= slice && slice <= to) ?? false;
}

/** Adds `slice` to sorted disjoint ranges, merging neighbours. */
function insert(ranges: Ranges, slice: number): Ranges {
  const out: Ranges = [];
  let placed = false;
  for (const [from, to] of ranges) {
    if (!placed && slice < from - 1) {
      out.push([slice, slice]);
      placed = true;
    }
    if (!placed && slice >= from - 1 && slice <= to + 1) {
      out.push([Math.min(from, slice), Math.max(to, slice)]);
      placed = true;
      continue;
    }
    const last = out[out.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  if (!placed) out.push([slice, slice]);
  return out;
}


/** An unreadable summary is treated as absent (it is only a cache of the listing). */
function decodeSummary(body: Uint8Array): KeyUsageSummary | undefined {
  try {
    const s = JSON.parse(new TextDecoder().decode(body)) as KeyUsageSummary;
    if (s.version !== 1 || !Number.isSafeInteger(s.records) || typeof s.counted !== "object" || s.counted === null) return undefined;
    return s;
  } catch {
    return undefined;
  }
}
