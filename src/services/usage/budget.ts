/**
 * The per-key budget: a key with `budgetSeconds` may start work (an inversion job, a generation)
 * while its billed device seconds are below it; work already running may overshoot.
 */
import type { Store } from "../../ports/store/index.js";
import type { Principal } from "../auth/index.js";
import { budgetRefusal } from "./key-budget.js";

export class BudgetExhaustedError extends Error {
  override readonly name = "BudgetExhaustedError";
}

export async function assertWithinBudget(store: Store, principal: Principal): Promise<void> {
  const refusal = await budgetRefusal(store, principal.tenantId, principal.keyId, principal.budgetSeconds);
  if (refusal !== undefined) throw new BudgetExhaustedError(refusal);
}
