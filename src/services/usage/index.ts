export { assertUsageRecord, InvalidUsageRecordError, USAGE_KINDS, usageKindOf, usagePrefix, usageStoreKey, type UsageKind, type UsageRecord } from "./usage-record.js";
export { UsageLedger, type UsageQuery, type UsageSummary, type UsageTotals } from "./usage-ledger.js";
export { assertWithinBudget, BudgetExhaustedError } from "./budget.js";
export { budgetRefusal, keyBudgetCheck, type SpendingCheck } from "./key-budget.js";
export { keyUsageSummaryKey, keyUsageTotals } from "./key-usage-total.js";
