import { describe, expect, it } from "vitest";
import { apiKeyId, bearerToken, generateApiKey, hashApiKey, looksLikeApiKey } from "../../../src/services/auth/index.js";

describe("API keys", () => {
  it("generates sk_ + base64url of 32 random bytes from the given source", () => {
    const key = generateApiKey((size) => new Uint8Array(size).fill(0xfb));
    expect(key).toBe(`sk_${Buffer.alloc(32, 0xfb).toString("base64url")}`);
    expect(key).toHaveLength(3 + 43);
    expect(looksLikeApiKey(key)).toBe(true);
    expect(generateApiKey()).not.toBe(generateApiKey());
  });

  it("hashes with SHA-256 (hex) and derives a public id from the hash", () => {
    // FIPS 180-2 test vector: SHA-256("abc").
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(apiKeyId(hashApiKey("abc"))).toBe("key_ba7816bf8f01cfea");
  });

  it("rejects tokens that cannot be keys before any lookup", () => {
    for (const bad of ["", "sk_", "sk_short", "pk_" + "a".repeat(40), "sk_" + "a".repeat(40) + "!", "sk_" + "a".repeat(200)]) {
      expect(looksLikeApiKey(bad), bad).toBe(false);
    }
  });

  it("reads the Bearer token of an Authorization header", () => {
    expect(bearerToken("Bearer sk_abc")).toBe("sk_abc");
    expect(bearerToken("bearer   sk_abc ")).toBe("sk_abc");
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken("Basic dXNlcjpwYXNz")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken("Bearer")).toBeUndefined();
  });
});
