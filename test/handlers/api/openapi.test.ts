import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../../src/schemas/files.js";
import { createHarness } from "./harness.js";

describe("GET /openapi.json and /docs", () => {
  it("serves the generated document without a key", async () => {
    const h = await createHarness({ runSlices: false });
    const response = await h.call("/openapi.json", { key: null });
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/inversions/{id}/events");
  });

  it("serves a self-contained docs page that renders /openapi.json", async () => {
    const h = await createHarness({ runSlices: false });
    const response = await h.call("/docs", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain('fetch("/openapi.json")');
    // No CDN: nothing is loaded from another origin.
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
  });
});
