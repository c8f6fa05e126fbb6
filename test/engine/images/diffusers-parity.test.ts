import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { prepareTrainingImage, resolveImageOptions } from "../../../src/engine/images/index.js";

// diffusers' TextualInversionDataset preprocessing of the same JPEG, computed with Pillow
// by tools/reference/diffusers_preprocess_reference.py.
const fixture = (name: string) => new URL(`../../fixtures/${name}`, import.meta.url);
const reference = JSON.parse(readFileSync(fixture("diffusers_preprocess.json"), "utf8")) as {
  pillow: string;
  resolution: number;
  rgb_hwc_base64: string;
  chw_float32_le_sha256: string;
};

describe("parity with diffusers' textual-inversion preprocessing", () => {
  it(`gives the same float32 CHW tensor as diffusers with Pillow ${reference.pillow} (121x90 JPEG, centre crop, bicubic)`, async () => {
    const jpeg = readFileSync(fixture("diffusers_preprocess.jpg"));
    const image = await prepareTrainingImage("diffusers_preprocess.jpg", jpeg, resolveImageOptions({ resolution: reference.resolution, minCount: 1 }));
    expect([image.width, image.height]).toEqual([121, 90]); // odd difference: the crop offset rounds down
    const size = reference.resolution;
    const rgb = Buffer.from(reference.rgb_hwc_base64, "base64");
    let differing = 0;
    for (let i = 0; i < size * size; i++) {
      for (let c = 0; c < 3; c++) if (image.pixels[c * size * size + i] !== Math.fround(rgb[i * 3 + c]! / 127.5 - 1)) differing++;
    }
    expect(differing).toBe(0);
    const bytes = Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(reference.chw_float32_le_sha256);
  });
});
