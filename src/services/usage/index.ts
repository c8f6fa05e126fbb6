export { assertUsageRecord, InvalidUsageRecordError, usagePrefix, usageStoreKey, type UsageRecord } from "./usage-record.js";
export { UsageLedger, type UsageQuery, type UsageSummary, type UsageTotals } from "./usage-ledger.js";
export { budgetRefusal, keyBudgetCheck, type SpendingCheck } from "./key-budget.js";
