import { describe, expect, it } from "vitest";
import { createApiApp } from "../../src/handlers/app.js";
import { requireApiKey, type AuthEnv } from "../../src/handlers/middleware/require-api-key.js";
import { MemoryStore } from "../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../src/services/auth/index.js";

async function setup() {
  const registry = new ApiKeyRegistry(new MemoryStore());
  const acme = await registry.issue("acme", "acme key");
  const globex = await registry.issue("globex", "globex key");
  const app = createApiApp<AuthEnv>();
  app.use("/v1/*", requireApiKey(registry));
  app.get("/v1/whoami", (c) => c.json(c.get("principal")));
  app.get("/health", (c) => c.text("ok"));
  return { app, registry, acme, globex };
}

const withKey = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

describe("requireApiKey middleware", () => {
  it("puts the key's tenant on the context", async () => {
    const { app, acme, globex } = await setup();
    const a = await app.request("/v1/whoami", withKey(acme.key));
    expect(a.status).toBe(200);
    expect(await a.json()).toEqual({ tenantId: "acme", keyId: acme.record.keyId });
    expect(await (await app.request("/v1/whoami", withKey(globex.key))).json()).toMatchObject({ tenantId: "globex" });
  });

  it("answers 401 problem+json with a Bearer challenge for missing, malformed, unknown and revoked keys", async () => {
    const { app, registry, acme } = await setup();
    await registry.revoke(acme.key);
    const cases: [string, RequestInit][] = [
      ["missing", {}],
      ["basic auth", { headers: { authorization: "Basic dXNlcjpwYXNz" } }],
      ["malformed", withKey("sk_nope")],
      ["unknown", withKey("sk_" + "u".repeat(43))],
      ["revoked", withKey(acme.key)],
    ];
    for (const [name, init] of cases) {
      const response = await app.request("/v1/whoami", init);
      expect(response.status, name).toBe(401);
      expect(response.headers.get("content-type"), name).toBe("application/problem+json");
      expect(response.headers.get("www-authenticate"), name).toBe('Bearer realm="api"');
      const problem = (await response.json()) as { code: string; instance: string };
      expect(problem.code, name).toBe("unauthorized");
      expect(problem.instance, name).toBe("/v1/whoami");
    }
  });

  it("leaves routes outside its scope open", async () => {
    const { app } = await setup();
    expect((await app.request("/health")).status).toBe(200);
  });
});
