import { describe, expect, it } from "vitest";
import { WebhookSecretStore } from "../../../src/services/webhooks/index.js";
import { createHarness, problem } from "./harness.js";

interface SecretResource {
  object: string;
  secret: string;
  created_at: string;
  previous_expires_at: string | null;
}

describe("GET /v1/webhook-secret and POST /v1/webhook-secret/rotate", () => {
  it("creates the tenant's secret once, per tenant, and rotates it with a grace period", async () => {
    const h = await createHarness({ runSlices: false });
    const first = (await (await h.call("/v1/webhook-secret")).json()) as SecretResource;
    expect(first).toMatchObject({ object: "webhook_secret", previous_expires_at: null });
    expect(first.secret).toMatch(/^whsec_/);
    expect(((await (await h.call("/v1/webhook-secret")).json()) as SecretResource).secret).toBe(first.secret);
    const other = (await (await h.call("/v1/webhook-secret", { key: h.keyB })).json()) as SecretResource;
    expect(other.secret).not.toBe(first.secret);

    const response = await h.call("/v1/webhook-secret/rotate?grace_seconds=600", { method: "POST" });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const rotated = (await response.json()) as SecretResource;
    expect(rotated.secret).not.toBe(first.secret);
    expect(Date.parse(rotated.previous_expires_at!) - Date.parse(rotated.created_at)).toBe(600_000);
    // Deliveries now carry both signatures; tenant B is untouched.
    expect(await new WebhookSecretStore({ store: h.store }).activeSecrets("tenant-a")).toEqual([rotated.secret, first.secret]);
    expect(await new WebhookSecretStore({ store: h.store }).activeSecrets("tenant-b")).toEqual([other.secret]);
  });

  it("refuses a grace period outside 0..7 days", async () => {
    const h = await createHarness({ runSlices: false });
    for (const bad of ["-1", "604801", "soon"]) {
      const response = await h.call(`/v1/webhook-secret/rotate?grace_seconds=${bad}`, { method: "POST" });
      expect(response.status).toBe(400);
      expect((await problem(response)).code).toBe("validation_failed");
    }
  });
});
