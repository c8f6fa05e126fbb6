import { describe, expect, it } from "vitest";
import { subscribesTo, WEBHOOK_EVENT_TYPES, webhookMessage, webhookSubscriptionSchema } from "../../../src/services/webhooks/index.js";

describe("webhook events", () => {
  it("filters per job: all events by default, only the listed ones otherwise", () => {
    const all = webhookSubscriptionSchema.parse({ url: "https://hooks.example.com/a" });
    expect(WEBHOOK_EVENT_TYPES.every((type) => subscribesTo(all, type))).toBe(true);
    const some = webhookSubscriptionSchema.parse({ url: "https://hooks.example.com/a", events: ["inversion.succeeded", "inversion.failed"] });
    expect(WEBHOOK_EVENT_TYPES.filter((type) => subscribesTo(some, type))).toEqual(["inversion.succeeded", "inversion.failed"]);
  });

  it("validates subscriptions: http(s) URLs and known event names only", () => {
    for (const bad of [
      { url: "ftp://hooks.example.com/" },
      { url: "not a url" },
      { url: "https://hooks.example.com/", events: [] },
      { url: "https://hooks.example.com/", events: ["inversion.exploded"] },
    ]) {
      expect(webhookSubscriptionSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("gives an event the same id every time it is built, and distinct events distinct ids", () => {
    const at = new Date("2026-05-01T00:00:00Z");
    const a = webhookMessage("inv_1", "inversion.succeeded", at, { steps: 1 });
    const again = webhookMessage("inv_1", "inversion.succeeded", new Date("2026-05-02T00:00:00Z"), { steps: 1 });
    expect(again.id).toBe(a.id);
    expect(a.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookMessage("inv_1", "inversion.started", at, {}).id).not.toBe(a.id);
    expect(webhookMessage("inv_2", "inversion.succeeded", at, {}).id).not.toBe(a.id);
    expect(JSON.parse(a.body)).toEqual({ type: "inversion.succeeded", timestamp: "2026-05-01T00:00:00.000Z", data: { steps: 1, id: "inv_1" } });
  });
});
