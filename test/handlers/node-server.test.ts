import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "../../src/handlers/app.js";
import { requireApiKey, type AuthEnv } from "../../src/handlers/middleware/require-api-key.js";
import { MemoryStore } from "../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../src/services/auth/index.js";

/** The same app over real HTTP on Node (@hono/node-server), as `npm start` will serve it. */
let server: ServerType;
let base: string;
let key: string;

beforeAll(async () => {
  const registry = new ApiKeyRegistry(new MemoryStore());
  key = (await registry.issue("acme", "dev")).key;
  const app = createApiApp<AuthEnv>({ logError: () => {} });
  app.use("/v1/*", requireApiKey(registry));
  app.get("/v1/whoami", (c) => c.json(c.get("principal")));
  app.get("/v1/crash", () => {
    throw new Error("secret internals");
  });
  await new Promise<void>((ready) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe("the API app on @hono/node-server", () => {
  it("authenticates over HTTP and answers errors as problem+json", async () => {
    const ok = await fetch(`${base}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ tenantId: "acme" });

    const denied = await fetch(`${base}/v1/whoami`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    expect(await denied.json()).toMatchObject({ code: "unauthorized", status: 401 });

    const crash = await fetch(`${base}/v1/crash`, { headers: { authorization: `Bearer ${key}` } });
    expect(crash.status).toBe(500);
    expect(await crash.text()).not.toContain("secret internals");
  });
});
