import { MemoryStore } from "../../../src/ports/store/index.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("MemoryStore", () => new MemoryStore());
