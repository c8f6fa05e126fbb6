/**
 * The per-key budget: a key with `budgetSeconds` may start work (an inversion job, a generation)
 * while its billed device seconds are below it; work already running may overshoot.
 */
import type { Store } from "../../ports/store/index.js";
import type { Principal } from "../auth/index.js";
import { UsageLedger } from "./usage-ledger.js";

export class BudgetExhaustedError extends Error {
  override readonly name = "BudgetExhaustedError";
}

export async function assertWithinBudget(store: Store, principal: Principal): Promise<void> {
  if (principal.budgetSeconds === undefined) return;
  const used = await new UsageLedger(store).summarize({ tenantId: principal.tenantId, keyId: principal.keyId });
  if (used.seconds >= principal.budgetSeconds) {
    throw new BudgetExhaustedError(`this API key has used ${used.seconds.toFixed(1)} of its ${principal.budgetSeconds} device seconds`);
  }
}
