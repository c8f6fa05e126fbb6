import { describe, expect, it } from "vitest";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import { UsageLedger } from "../../../src/services/usage/index.js";
import { createHarness, problem, storedKeys, syntheticBody } from "./harness.js";

describe("per-key budget", () => {
  it("answers 402 once the key's billed device seconds reach its budget; other keys are unaffected", async () => {
    const h = await createHarness({ runSlices: false });
    const registry = new ApiKeyRegistry(h.store);
    const capped = await registry.issue("tenant-a", "capped", undefined, { budgetSeconds: 10 });
    const bill = (jobId: string, seconds: number) =>
      new UsageLedger(h.store).record({ tenantId: "tenant-a", keyId: capped.record.keyId, jobId, slice: 0, steps: 100, device: "cpu", seconds, recordedAt: "2026-01-01T00:00:00Z" });

    await bill("inv_earlier1", 9.5);
    expect((await h.post("/v1/inversions", syntheticBody(), {}, capped.key)).status).toBe(202);
    await bill("inv_earlier2", 0.5);
    const before = await storedKeys(h.store);
    const refused = await h.post("/v1/inversions", syntheticBody({ seed: 2 }), {}, capped.key);
    expect(refused.status).toBe(402);
    const body = await problem(refused);
    expect(body.code).toBe("budget_exhausted");
    expect(body.detail).toContain("10.0 of its 10 device seconds");
    expect(await storedKeys(h.store)).toEqual(before);
    // The tenant's uncapped key still works.
    expect((await h.post("/v1/inversions", syntheticBody({ seed: 3 }))).status).toBe(202);
  });

  it("refuses an invalid budget when issuing a key", async () => {
    const h = await createHarness({ runSlices: false });
    await expect(new ApiKeyRegistry(h.store).issue("tenant-a", "bad", undefined, { budgetSeconds: -1 })).rejects.toThrow(RangeError);
  });
});
