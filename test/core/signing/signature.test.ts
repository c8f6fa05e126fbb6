import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  constantTimeEqual,
  fromBase64,
  generateWebhookSecret,
  hmacSha256,
  InvalidWebhookSecretError,
  parseWebhookSecret,
  signWebhook,
  toBase64,
  verifyWebhook,
  WebhookVerificationError,
} from "../../../src/core/signing/index.js";

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

  it("reads a non-canonical timestamp header (leading zeros) as the reference package does: the signature covers the number in canonical form", () => {
    // standardwebhooks 1.1.1 (the JS reference) parses webhook-timestamp and signs
    // the re-formatted number, not the header text: over "0<t>" it accepts a signature of "<t>"
    // and refuses one of "0<t>". A verifier signing the raw text would disagree with it here.
    const t = now();
    const key = parseWebhookSecret(secretA);
    const rawSignature = (timestamp: string) => `v1,${toBase64(hmacSha256(key, new TextEncoder().encode(`msg_5.${timestamp}.${body}`)))}`;
    const headers = (timestamp: string, signature: string) => ({ "webhook-id": "msg_5", "webhook-timestamp": timestamp, "webhook-signature": signature });
    const canonical = headers(`0${t}`, rawSignature(String(t)));
    const overRawText = headers(`0${t}`, rawSignature(`0${t}`));
    expect(new Webhook(secretA).verify(body, { ...canonical })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secretA).verify(body, { ...overRawText })).toThrow();
    expect(() => verifyWebhook(canonical, body, [secretA], t)).not.toThrow();
    expect(() => verifyWebhook(overRawText, body, [secretA], t)).toThrow(WebhookVerificationError);
    // Exponent or fractional text is not Unix seconds (the reference would parseInt "1.6e9" to 1: too old).
    expect(() => verifyWebhook(headers(`${t}.0`, rawSignature(`${t}.0`)), body, [secretA], t)).toThrow(/not Unix seconds/);
  });

  it("parses whsec_ secrets of 24 to 64 bytes and refuses anything else", () => {
    const secret = generateWebhookSecret((size) => new Uint8Array(size).fill(7));
    expect(parseWebhookSecret(secret)).toEqual(new Uint8Array(32).fill(7));
    const of = (bytes: number) => `whsec_${Buffer.alloc(bytes, 1).toString("base64")}`;
    expect(parseWebhookSecret(of(24))).toHaveLength(24);
    expect(parseWebhookSecret(of(64))).toHaveLength(64);
    for (const bad of [of(16), of(65), "sk_abc", `whsec_${"!".repeat(32)}`, "whsec_", Buffer.alloc(32).toString("base64")]) {
      expect(() => parseWebhookSecret(bad), bad).toThrow(InvalidWebhookSecretError);
    }
    expect(() => signWebhook("msg", now(), body, [])).toThrow(WebhookVerificationError);
  });
});

// The core's HMAC-SHA256 and base64 replace node:crypto and Buffer; checked against them.
describe("HMAC-SHA256, constant-time comparison and base64 (no platform crypto)", () => {
  it("equals node:crypto's HMAC for keys shorter than, equal to and longer than a block, and any message", () => {
    // RFC 4231 test case 2: key "Jefe".
    const jefe = hmacSha256(new TextEncoder().encode("Jefe"), new TextEncoder().encode("what do ya want for nothing?"));
    expect(Buffer.from(jefe).toString("hex")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    for (const keyBytes of [0, 1, 24, 32, 63, 64, 65, 131]) {
      for (const messageBytes of [0, 1, 55, 56, 64, 119, 1000]) {
        const key = randomBytes(keyBytes);
        const message = randomBytes(messageBytes);
        const expected = createHmac("sha256", key).update(message).digest();
        expect(Buffer.from(hmacSha256(key, message)).equals(expected), `key ${keyBytes} B, message ${messageBytes} B`).toBe(true);
      }
    }
  });

  it("compares like timingSafeEqual, and unequal lengths as different", () => {
    const a = randomBytes(32);
    for (const b of [Buffer.from(a), randomBytes(32), Buffer.concat([a.subarray(0, 31), Buffer.from([a[31]! ^ 1])]), a.subarray(0, 31), Buffer.alloc(0)]) {
      const expected = a.length === b.length && timingSafeEqual(a, b);
      expect(constantTimeEqual(a, b)).toBe(expected);
    }
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it("encodes and decodes base64 exactly as Buffer does", () => {
    for (const size of [0, 1, 2, 3, 31, 32, 33, 64]) {
      const bytes = randomBytes(size);
      expect(toBase64(bytes)).toBe(bytes.toString("base64"));
      expect(Buffer.from(fromBase64(bytes.toString("base64"))).equals(bytes)).toBe(true);
    }
  });

  it("imports no node: module (core runs in any runtime, Workers included)", async () => {
    const dir = join(import.meta.dirname, "../../../src/core/signing");
    for (const file of await readdir(dir)) {
      expect(await readFile(join(dir, file), "utf8"), file).not.toMatch(/from\s+"node:/);
    }
  });
});
