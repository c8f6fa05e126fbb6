import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseExact, stringifyExact } from "../../src/core/io/exact-json.js";
import { sha256Hex } from "../../src/core/io/sha256.js";
import { uint32s } from "../../src/core/rng/stream.js";

describe("sha256", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("matches node:crypto on every length around the block boundaries and on a large buffer", () => {
    const words = uint32s({ seed: 9, stream: 102, step: 0 }, 70_000);
    const bytes = new Uint8Array(words.buffer);
    for (const n of [...Array.from({ length: 140 }, (_, i) => i), 1000, 4097, bytes.length]) {
      const part = bytes.subarray(0, n);
      expect(sha256Hex(part)).toBe(createHash("sha256").update(part).digest("hex"));
    }
  });
});

describe("exact JSON", () => {
  it("round-trips every float64, including -0, NaN and infinities, bit-exactly", () => {
    const words = uint32s({ seed: 3, stream: 103, step: 0 }, 2000);
    const doubles = Array.from(new Float64Array(words.buffer)).filter((x) => Number.isFinite(x));
    const values = [...doubles, -0, 0, NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE, 0.1 + 0.2];
    const back = parseExact(stringifyExact({ values })) as { values: number[] };
    expect(back.values.length).toBe(values.length);
    back.values.forEach((v, i) => expect(Object.is(v, values[i])).toBe(true));
  });

  it("sorts keys so equal objects give equal text, and drops undefined fields", () => {
    expect(stringifyExact({ b: 1, a: { d: [1, { z: 0, y: null }], c: undefined } })).toBe('{"a":{"d":[1,{"y":null,"z":0}]},"b":1}');
    expect(() => parseExact('{"$f64":"7"}')).toThrow(/unknown/);
  });
});
