import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CliUsageError } from "../../src/cli/command.js";
import { runKeys } from "../../src/cli/keys.js";
import { parseServeArgs } from "../../src/cli/serve.js";
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
