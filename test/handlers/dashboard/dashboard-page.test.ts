import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import { createHarness } from "../api/harness.js";

describe("GET /dashboard", () => {
  it("serves the page with a CSP that only allows its own script, and / redirects to it", async () => {
    const h = await createHarness({ runSlices: false });
    const root = await h.call("/", { key: null, redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/dashboard");
    const page = await h.call("/dashboard", { key: null });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard/app.js"></script>');
    expect(html).not.toMatch(/<script>|https?:\/\/(?!www\.w3\.org)/);
  });

  it("serves a script that parses and uses only same-origin API paths", async () => {
    const h = await createHarness({ runSlices: false });
    const response = await h.call("/dashboard/app.js", { key: null });
    expect(response.headers.get("content-type")).toMatch(/^text\/javascript/);
    const code = await response.text();
    expect(() => new Script(code)).not.toThrow();
    for (const path of ["/v1/uploads", "/v1/inversions", "/events", "/embedding?format=", "/v1/usage", "/v1/generations"]) expect(code).toContain(path);
    expect(code).not.toMatch(/EventSource|https?:\/\/(?!www\.w3\.org)/);
  });

  it("is not part of the OpenAPI document", async () => {
    const h = await createHarness({ runSlices: false });
    const doc = (await (await h.call("/openapi.json", { key: null })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/dashboard") || p === "/")).toBe(false);
  });
});
