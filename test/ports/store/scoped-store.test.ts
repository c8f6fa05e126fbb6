import { describe, expect, it } from "vitest";
import { InvalidKeyError, MemoryStore, ScopedStore } from "../../../src/ports/store/index.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("ScopedStore over MemoryStore", () => new ScopedStore(new MemoryStore(), "tenants/acme/"));

describe("ScopedStore", () => {
  it("keeps each scope's objects invisible to the others", async () => {
    const shared = new MemoryStore();
    const acme = new ScopedStore(shared, "tenants/acme/");
    const globex = new ScopedStore(shared, "tenants/globex/");
    await acme.put("jobs/inv_1", new TextEncoder().encode("acme's"));
    expect(await globex.get("jobs/inv_1")).toBeUndefined();
    expect((await globex.list("")).entries).toEqual([]);
    await globex.delete("jobs/inv_1");
    expect(new TextDecoder().decode((await acme.get("jobs/inv_1"))!.body)).toBe("acme's");
    expect((await shared.list("")).entries.map((e) => e.key)).toEqual(["tenants/acme/jobs/inv_1"]);
  });

  it("needs a scope that ends with '/' and is a valid key prefix", () => {
    expect(() => new ScopedStore(new MemoryStore(), "tenants/acme")).toThrow(InvalidKeyError);
    expect(() => new ScopedStore(new MemoryStore(), "../")).toThrow(/segment/);
  });
});
