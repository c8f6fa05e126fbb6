import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CliUsageError } from "../../src/cli/command.js";
import { runKeys } from "../../src/cli/keys.js";
import { DEMO_DEFAULTS } from "../../src/cli/demo.js";
import { DEFAULT_DEV_KEY_FILE, parseServeArgs } from "../../src/cli/serve.js";
import { DEV_TENANT, ensureDevKey, followDemoJob, submitDemoJob } from "../../src/cli/serve-dev.js";
import { FsStore } from "../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../src/services/auth/index.js";
import { startEmbeddedServer, type EmbeddedServer } from "../../src/server/embedded.js";

const dirs: string[] = [];
let server: EmbeddedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "dvar-serve-"));
  dirs.push(dir);
  return dir;
}

describe("dvar serve flags", () => {
  it("defaults to 127.0.0.1:8787, takes PORT, and refuses a bad port or unknown flag", () => {
    expect(parseServeArgs([], {})).toEqual({ help: false, port: 8787, host: "127.0.0.1", allowPrivateWebhooks: false });
    expect(parseServeArgs([], { PORT: "9000" }).port).toBe(9000);
    expect(parseServeArgs(["--port", "0", "--host", "0.0.0.0", "--store", "/tmp/s"], {})).toMatchObject({ port: 0, host: "0.0.0.0", store: "/tmp/s" });
    expect(() => parseServeArgs(["--port", "http"], {})).toThrow(CliUsageError);
    expect(() => parseServeArgs(["--port", "70000"], {})).toThrow(CliUsageError);
    expect(() => parseServeArgs(["--verbose"], {})).toThrow(CliUsageError);
  });
});

describe("dvar keys create + the embedded server over HTTP", () => {
  it("issues a key into the store that the served API accepts, and runs a job to the end", async () => {
    const store = tempStore();
    let printed = "";
    const code = await runKeys(["create", "--tenant", "dev", "--store", store, "--json"], { stdout: { write: (t: string) => (printed += t) }, env: {} });
    expect(code).toBe(0);
    const { key, tenant } = JSON.parse(printed) as { key: string; tenant: string };
    expect(key).toMatch(/^sk_/);
    expect(tenant).toBe("dev");

    server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: store }, log: () => {} });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const auth = { authorization: `Bearer ${key}` };
    const created = await fetch(`${server.url}/v1/inversions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ objective: "synthetic", max_steps: 50, stopping: { name: "fixed", steps: 50 } }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string; step: number } = { status: "queued", step: 0 };
    for (let i = 0; i < 200 && job.status !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      job = (await (await fetch(`${server.url}/v1/inversions/${id}`, { headers: auth })).json()) as typeof job;
    }
    expect(job).toMatchObject({ status: "succeeded", step: 50 });
    expect((await fetch(`${server.url}/v1/inversions/${id}`)).status).toBe(401);
    expect((await fetch(`${server.url}/docs`)).status).toBe(200);
  });

  it("refuses a bad tenant id and an unknown action", async () => {
    const io = { stdout: { write: () => true }, env: {} };
    await expect(runKeys(["create", "--tenant", "Not Valid", "--store", tempStore()], io)).rejects.toThrow(CliUsageError);
    await expect(runKeys(["delete"], io)).rejects.toThrow(CliUsageError);
    await expect(runKeys(["create"], io)).rejects.toThrow("--tenant is required");
    await expect(runKeys(["create", "--tenant", "dev", "--budget-seconds", "-3", "--store", tempStore()], io)).rejects.toThrow(CliUsageError);
  });

  it("issues a key with a budget that authentication reports", async () => {
    const store = tempStore();
    let printed = "";
    await runKeys(["create", "--tenant", "dev", "--budget-seconds", "3600", "--store", store, "--json"], { stdout: { write: (t: string) => (printed += t) }, env: {} });
    const { key } = JSON.parse(printed) as { key: string };
    const { ApiKeyRegistry } = await import("../../src/services/auth/index.js");
    const { FsStore } = await import("../../src/ports/store/index.js");
    expect(await new ApiKeyRegistry(new FsStore({ root: store })).authenticate(key)).toMatchObject({ tenantId: "dev", budgetSeconds: 3600 });
  });
});

describe("npm start: dvar serve --dev-key --demo", () => {
  it("parses the development flags and refuses them out of combination", () => {
    expect(parseServeArgs(["--dev-key", "--demo"], {})).toMatchObject({ devKeyFile: DEFAULT_DEV_KEY_FILE, demoConcept: DEMO_DEFAULTS.concept });
    expect(parseServeArgs(["--dev-key", "--dev-key-file", "/tmp/k"], {})).toMatchObject({ devKeyFile: "/tmp/k" });
    expect(parseServeArgs([], {}).devKeyFile).toBeUndefined();
    expect(() => parseServeArgs(["--demo"], {})).toThrow("--demo needs --dev-key");
    expect(() => parseServeArgs(["--dev-key-file", "/tmp/k"], {})).toThrow(CliUsageError);
    expect(() => parseServeArgs(["--dev-key", "--demo-concept", "x"], {})).toThrow(CliUsageError);
  });

  it("keeps one development key across restarts (stored hashed, plaintext only in the 0600 file) and replaces a revoked one", async () => {
    const dir = tempStore();
    const store = new FsStore({ root: join(dir, "store") });
    const file = join(dir, "dev-api-key");
    const first = await ensureDevKey(store, file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(first.key);
    expect(await ensureDevKey(store, file)).toEqual({ key: first.key, created: false });
    const registry = new ApiKeyRegistry(store);
    expect(await registry.authenticate(first.key)).toMatchObject({ tenantId: DEV_TENANT });
    const stored = await store.list("api-keys/");
    expect(stored.entries.length).toBe(1);
    expect(Buffer.from((await store.get(stored.entries[0]!.key))!.body).toString()).not.toContain(first.key);
    await registry.revoke(first.key);
    const second = await ensureDevKey(store, file);
    expect(second.created).toBe(true);
    expect(second.key).not.toBe(first.key);
  });

  it("submits the bundled concept once as a textual_inversion job through the API", async () => {
    const dir = tempStore();
    server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: join(dir, "store"), DVAR_SLICE_MAX_STEPS: "1" }, log: () => {} });
    const { key } = await ensureDevKey(server.store, join(dir, "dev-api-key"));
    const id = await submitDemoJob({ url: server.url, key, concept: DEMO_DEFAULTS.concept });
    expect(id).toMatch(/\S/);
    const auth = { authorization: `Bearer ${key}` };
    const job = (await (await fetch(`${server.url}/v1/inversions/${id}`, { headers: auth })).json()) as Record<string, any>;
    expect(job).toMatchObject({ id, objective: "textual_inversion" });
    expect(job.stopping).toMatchObject({ name: "dvar", window: 310, threshold: 0.8 }); // dvar-tiny-sd
    await fetch(`${server.url}/v1/inversions/${id}/cancel`, { method: "POST", headers: auth });
    expect(await submitDemoJob({ url: server.url, key, concept: DEMO_DEFAULTS.concept })).toBeUndefined();
  });
});

describe("followDemoJob", () => {
  it("prints a line per change of status or step and the download command at the end", async () => {
    const states = [
      { status: "queued", step: 0, max_steps: 10, dvar_ratio: null, outcome: null },
      { status: "running", step: 4, max_steps: 10, dvar_ratio: 0.8, outcome: null },
      { status: "running", step: 4, max_steps: 10, dvar_ratio: 0.8, outcome: null },
      { status: "succeeded", step: 7, max_steps: 10, dvar_ratio: 0.3, outcome: null },
    ];
    const fake = (async () => new Response(JSON.stringify(states.shift()), { status: 200 })) as unknown as typeof fetch;
    const lines: string[] = [];
    const status = await followDemoJob({ url: "http://x", key: "sk_k", id: "inv_1", write: (l) => lines.push(l), pollMs: 1, fetch: fake });
    expect(status).toBe("succeeded");
    expect(lines.slice(0, 3)).toEqual(["demo job inv_1: queued, step 0/10", "demo job inv_1: running, step 4/10, DVAR ratio 0.800", "demo job inv_1: succeeded, step 7/10, DVAR ratio 0.300"]);
    expect(lines[3]).toContain("/v1/inversions/inv_1/embedding?format=diffusers");
  });
});
