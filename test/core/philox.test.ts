import { describe, expect, it } from "vitest";
import { philox4x32 } from "../../src/core/rng/philox.js";
import { integers, normals, permutation, uniforms, uint32s } from "../../src/core/rng/stream.js";

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, "0"));

describe("philox4x32-10", () => {
  // Known-answer tests from Random123's kat_vectors (philox4x32 10 rounds).
  it("matches the Random123 known-answer vectors", () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toEqual(["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"]);
    expect(
      hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
    ).toEqual(["408f276d", "41c83b0e", "a20bc7c6", "6d5451fd"]);
    expect(
      hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    ).toEqual(["d16cfe09", "94fdcceb", "5001e420", "24126ea1"]);
  });
});

describe("addressed draws", () => {
  const at = { seed: 1234, stream: 6, step: 17 };

  it("are pure functions of the address", () => {
    expect(normals(at, 33)).toEqual(normals(at, 33));
    // A prefix of a longer draw equals the shorter draw: counts never shift values.
    expect(Array.from(normals(at, 64)).slice(0, 33)).toEqual(Array.from(normals(at, 33)));
    expect(uint32s({ ...at, step: 18 }, 4)).not.toEqual(uint32s(at, 4));
    expect(uint32s({ ...at, stream: 5 }, 4)).not.toEqual(uint32s(at, 4));
    expect(uint32s({ ...at, seed: 2 ** 40 + 1234 }, 4)).not.toEqual(uint32s(at, 4));
  });

  it("have the right distributions", () => {
    const n = 200_000;
    const u = uniforms(at, n);
    let mean = 0;
    for (const x of u) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(1);
      mean += x / n;
    }
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005); // 4 sigma = 4 * sqrt(1/12/n) ~ 0.0026

    const z = normals(at, n);
    let m1 = 0;
    let m2 = 0;
    for (const x of z) {
      m1 += x / n;
      m2 += (x * x) / n;
    }
    expect(Math.abs(m1)).toBeLessThan(0.01);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.02);

    const counts = new Array(7).fill(0);
    for (const k of integers(at, 70_000, 7)) counts[k]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it("permutations are permutations", () => {
    const p = Array.from(permutation(at, 1000));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("refuses bad seeds", () => {
    expect(() => uint32s({ seed: -1, stream: 0, step: 0 }, 1)).toThrow(/seed/);
    expect(() => uint32s({ seed: 1.5, stream: 0, step: 0 }, 1)).toThrow(/seed/);
  });
});
