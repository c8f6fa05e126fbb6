import { describe, expect, it } from "vitest";
import { defaultModelCatalog } from "../../../src/services/models/model-catalog.js";
import { BUNDLED_MODEL_ID, modelIdCatalog, UnknownModelError } from "../../../src/services/models/model-ids.js";

describe("modelIdCatalog (the Workers control plane's catalog: ids, no folders)", () => {
  it("serves exactly the ids it is given and refuses others like the folder catalog does", () => {
    const catalog = modelIdCatalog(["tiny-sd", "sd15"]);
    expect(catalog.ids()).toEqual(["tiny-sd", "sd15"]);
    expect(catalog.resolve("sd15")).toBe("sd15");
    expect(() => catalog.resolve("sdxl")).toThrow(UnknownModelError);
    expect(() => catalog.resolve("sdxl")).toThrow('model "sdxl" is not served here (available: tiny-sd, sd15)');
    expect(() => modelIdCatalog([]).resolve("x")).toThrow("(available: none)");
  });

  it("names the bundled model as the folder catalog does", () => {
    expect(defaultModelCatalog().ids()).toEqual([BUNDLED_MODEL_ID]);
    expect(() => defaultModelCatalog().resolve("sdxl")).toThrow(`model "sdxl" is not served here (available: ${BUNDLED_MODEL_ID})`);
  });
});
