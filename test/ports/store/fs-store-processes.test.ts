import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { FsStore } from "../../../src/ports/store/index.js";
import { transpileFolder } from "../../support/transpile.js";

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "fs-store-proc-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Child processes run the real FsStore, transpiled to JavaScript.
transpileFolder(resolve("src/ports/store"), join(work, "store"));
const worker = join(work, "worker.mjs");
writeFileSync(
  worker,
  `import { FsStore } from "./store/fs-store.js";
import { PreconditionFailedError } from "./store/errors.js";
import { existsSync, writeFileSync } from "node:fs";
const [root, mode, id, count, processes] = process.argv.slice(2);
// Start together so the processes really contend: a file barrier, not a clock (a loaded
// machine may start a process seconds late).
writeFileSync(root + ".ready." + id, "");
const all = Array.from({ length: Number(processes) }, (_, i) => root + ".ready." + i);
while (!all.every((f) => existsSync(f))) await new Promise((r) => setTimeout(r, 1));
const store = new FsStore({ root, fsync: false });
const enc = new TextEncoder();
let wins = 0, losses = 0;
if (mode === "increment") {
  for (let i = 0; i < Number(count); i++) {
    for (;;) {
      const cur = await store.get("shared/counter");
      const next = Number(cur ? new TextDecoder().decode(cur.body) : "0") + 1;
      try {
        await store.put("shared/counter", enc.encode(String(next)), cur ? { ifMatch: cur.etag } : { ifNoneMatch: "*" });
        wins++;
        break;
      } catch (e) {
        if (!(e instanceof PreconditionFailedError)) throw e;
        losses++;
      }
    }
  }
} else {
  for (let i = 0; i < Number(count); i++) {
    try { await store.put("claims/" + i, enc.encode(id), { ifNoneMatch: "*" }); wins++; }
    catch (e) { if (!(e instanceof PreconditionFailedError)) throw e; losses++; }
  }
}
console.log(JSON.stringify({ wins, losses }));
`,
);

async function spawnWorkers(root: string, mode: string, processes: number, count: number) {
  const outs = await Promise.all(
    Array.from({ length: processes }, (_, id) =>
      run(process.execPath, [worker, root, mode, String(id), String(count), String(processes)]),
    ),
  );
  return outs.map((out) => JSON.parse(out.stdout) as { wins: number; losses: number });
}

describe("FsStore across processes", () => {
  it("loses no increment when three processes compare-and-swap one counter", async () => {
    const root = join(work, "counter");
    const results = await spawnWorkers(root, "increment", 3, 30);
    const text = new TextDecoder().decode((await new FsStore({ root }).get("shared/counter"))!.body);
    expect(Number(text)).toBe(90);
    expect(results.map((r) => r.wins)).toEqual([30, 30, 30]);
    expect(results.reduce((sum, r) => sum + r.losses, 0)).toBeGreaterThan(0);
  });

  it("gives each create-only claim to exactly one of three processes", async () => {
    const root = join(work, "claims");
    const results = await spawnWorkers(root, "claim", 3, 40);
    expect(results.reduce((sum, r) => sum + r.wins, 0)).toBe(40);
    expect(results.reduce((sum, r) => sum + r.losses, 0)).toBe(80);
    const store = new FsStore({ root });
    const page = await store.list("claims/");
    expect(page.entries).toHaveLength(40);
    const owners = new Set<string>();
    for (const { key } of page.entries) owners.add(new TextDecoder().decode((await store.get(key))!.body));
    expect([...owners].every((o) => ["0", "1", "2"].includes(o))).toBe(true);
  });
});
