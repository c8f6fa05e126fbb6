/**
 * Per-key budgets (device seconds, `dvar keys create --budget-seconds`): a key may spend while
 * its billed seconds are below its budget. Checked when a job is created (402) and before every
 * slice of a job (the job then fails with `budget_exhausted`, its checkpoint kept). A slice
 * already running is not cut short, so a key can overshoot by at most one slice per job.
 */
import type { Store } from "../../ports/store/index.js";
import { ApiKeyRegistry } from "../auth/key-registry.js";
import { keyUsageTotals } from "./key-usage-total.js";

/** Why a key may not spend (a sentence for clients), or undefined while it may. */
export async function budgetRefusal(store: Store, tenantId: string, keyId: string, budgetSeconds: number | undefined): Promise<string | undefined> {
  if (budgetSeconds === undefined) return undefined;
  // Counts every record, as summing the ledger would, but reads only those not counted before.
  const used = await keyUsageTotals(store, tenantId, keyId);
  if (used.seconds < budgetSeconds) return undefined;
  return `the API key ${keyId} has used ${used.seconds.toFixed(1)} of its ${budgetSeconds} device seconds`;
}

/** What a slice asks before it runs: may the key that created this job still spend? */
export type SpendingCheck = (job: { readonly tenantId: string; readonly keyId: string }) => Promise<string | undefined>;

/**
 * The default check: the key's budget from its record in the store (one listing; the usage
 * ledger is read only when the key has a budget, through its running summary: key-usage-total.ts). A key whose record is not in this store has
 * no budget here.
 */
export function keyBudgetCheck(store: Store): SpendingCheck {
  const keys = new ApiKeyRegistry(store);
  return async (job) => {
    const record = await keys.findByKeyId(job.keyId);
    if (!record || record.tenantId !== job.tenantId) return undefined;
    return budgetRefusal(store, job.tenantId, job.keyId, record.budgetSeconds);
  };
}
