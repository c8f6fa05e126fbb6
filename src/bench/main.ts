/** `npm run bench -- <name> [--runs N] [--threads N] [--python PATH]`: prints one JSON result. */
import { parseArgs } from "node:util";
import { benchStep } from "./step.js";

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { runs: { type: "string" }, threads: { type: "string" }, python: { type: "string" } },
  });
  const name = positionals[0];
  if (name !== "step") {
    process.stderr.write("usage: npm run bench -- step [--runs 10] [--threads 2] [--python /usr/bin/python3]\n");
    return 2;
  }
  const result = await benchStep({ runs: Number(values.runs ?? 10), threads: Number(values.threads ?? 2), python: values.python ?? "/usr/bin/python3" });
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  return 0;
}
