import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { centreSquare, resizeBicubicRgb } from "../../../src/engine/images/resample.js";

interface ReferenceCase {
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  sha256: string;
  rgb?: string;
}

// Pillow 9.4's Image.resize(BICUBIC) outputs, from tools/reference/pil_bicubic_reference.py.
const reference = JSON.parse(readFileSync(new URL("../../fixtures/pil_bicubic_reference.json", import.meta.url), "utf8")) as {
  pillow: string;
  cases: ReferenceCase[];
};

/** The input pattern the reference script uses. */
function pattern(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 11) % 256;
    }
  }
  return out;
}

describe("Pillow-exact bicubic resize", () => {
  it("uses a fixture with small cases stored and large ones hashed", () => {
    expect(reference.cases.length).toBeGreaterThanOrEqual(7);
    expect(reference.cases.filter((c) => c.rgb !== undefined).length).toBeGreaterThanOrEqual(5);
  });

  for (const c of reference.cases) {
    it(`matches Pillow ${reference.pillow} byte for byte: ${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}`, () => {
      const out = resizeBicubicRgb(pattern(c.width, c.height), c.width, c.height, c.outWidth, c.outHeight);
      expect(out).toHaveLength(c.outWidth * c.outHeight * 3);
      if (c.rgb !== undefined) expect(Buffer.from(out).equals(Buffer.from(c.rgb, "base64"))).toBe(true);
      expect(createHash("sha256").update(out).digest("hex")).toBe(c.sha256);
    });
  }

  it("returns a copy for an unchanged size and keeps flat colours flat", () => {
    const src = pattern(9, 7);
    const same = resizeBicubicRgb(src, 9, 7, 9, 7);
    expect(same).toEqual(src);
    expect(same).not.toBe(src);
    const flat = new Uint8Array(40 * 30 * 3).fill(77);
    for (const [w, h] of [[16, 16], [80, 45], [3, 100]] as const) {
      expect(resizeBicubicRgb(flat, 40, 30, w, h).every((v) => v === 77)).toBe(true);
    }
  });

  it("refuses inconsistent sizes", () => {
    expect(() => resizeBicubicRgb(new Uint8Array(10), 2, 2, 4, 4)).toThrow(/expected 12 RGB bytes/);
    expect(() => resizeBicubicRgb(new Uint8Array(12), 2, 2, 0, 4)).toThrow(/positive/);
  });
});

describe("centre crop", () => {
  it("uses diffusers' offsets (w - s) // 2, (h - s) // 2", () => {
    expect(centreSquare(31, 10)).toEqual({ left: 10, top: 0, side: 10 });
    expect(centreSquare(10, 33)).toEqual({ left: 0, top: 11, side: 10 });
    expect(centreSquare(8, 8)).toEqual({ left: 0, top: 0, side: 8 });
  });
});
