/** `npm run schemas`: writes schemas/*.json from the zod schemas (see files.ts). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { schemaFiles } from "./files.js";

const dir = process.argv[2] ?? "schemas";
mkdirSync(dir, { recursive: true });
for (const [name, content] of Object.entries(schemaFiles())) {
  writeFileSync(join(dir, name), content);
  process.stdout.write(`wrote ${join(dir, name)}\n`);
}
