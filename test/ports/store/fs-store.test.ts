import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { FsStore } from "../../../src/ports/store/index.js";
import { describeStoreConformance } from "./conformance.js";

const root = mkdtempSync(join(tmpdir(), "fs-store-"));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeStoreConformance("FsStore", () => new FsStore({ root: join(root, String(n++)) }));
