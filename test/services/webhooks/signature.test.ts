import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  generateWebhookSecret,
  InvalidWebhookSecretError,
  parseWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from "../../../src/services/webhooks/index.js";

const now = () => Math.floor(Date.now() / 1000);
const secretA = generateWebhookSecret();
const secretB = generateWebhookSecret();
const body = JSON.stringify({ type: "inversion.succeeded", data: { id: "inv_1" } });

describe("Standard Webhooks signatures", () => {
  it("matches the published example signature", () => {
    // Example from the Standard Webhooks specification; the reference package agrees.
    const headers = signWebhook("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}', [
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ]);
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("produces headers that the standardwebhooks reference package verifies", () => {
    const headers = signWebhook("msg_1", now(), body, [secretA]);
    expect(new Webhook(secretA).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secretB).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(secretA).verify(body + " ", { ...headers })).toThrow();
  });

  it("signs with every active secret during rotation", () => {
    const headers = signWebhook("msg_2", now(), body, [secretA, secretB]);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(secretA).verify(body, { ...headers })).toBeTruthy();
    expect(new Webhook(secretB).verify(body, { ...headers })).toBeTruthy();
  });

  it("verifies what the reference package signs, and rejects tampering, wrong keys and stale times", () => {
    const t = now();
    const signature = new Webhook(secretA).sign("msg_3", new Date(t * 1000), body);
    const headers = { "webhook-id": "msg_3", "webhook-timestamp": String(t), "webhook-signature": signature };
    expect(() => verifyWebhook(headers, body, [secretB, secretA], t)).not.toThrow();
    const rejects = (h: Record<string, string | undefined>, b: string, secrets: string[], at: number) =>
      expect(() => verifyWebhook(h, b, secrets, at)).toThrow(WebhookVerificationError);
    rejects(headers, `${body}x`, [secretA], t);
    rejects({ ...headers, "webhook-id": "msg_4" }, body, [secretA], t);
    rejects(headers, body, [secretB], t);
    rejects(headers, body, [secretA], t + 301);
    rejects(headers, body, [secretA], t - 301);
    rejects({ ...headers, "webhook-signature": undefined }, body, [secretA], t);
    rejects({ ...headers, "webhook-signature": signature.replace("v1,", "v2,") }, body, [secretA], t);
  });

  it("parses whsec_ secrets of 24 to 64 bytes and refuses anything else", () => {
    const secret = generateWebhookSecret((size) => new Uint8Array(size).fill(7));
    expect(parseWebhookSecret(secret)).toEqual(Buffer.alloc(32, 7));
    const of = (bytes: number) => `whsec_${Buffer.alloc(bytes, 1).toString("base64")}`;
    expect(parseWebhookSecret(of(24))).toHaveLength(24);
    expect(parseWebhookSecret(of(64))).toHaveLength(64);
    for (const bad of [of(16), of(65), "sk_abc", `whsec_${"!".repeat(32)}`, "whsec_", Buffer.alloc(32).toString("base64")]) {
      expect(() => parseWebhookSecret(bad), bad).toThrow(InvalidWebhookSecretError);
    }
    expect(() => signWebhook("msg", now(), body, [])).toThrow(WebhookVerificationError);
  });
});
