import { describe, expect, it } from "vitest";
import type { TrainingImage } from "../../../src/engine/images/index.js";
import { decodeSafetensors, encodeSafetensors } from "../../../src/core/io/safetensors.js";
import { LatentCache, LatentError } from "../../../src/engine/inversion/latents.js";

function image(name: string, value: number): TrainingImage {
  const pixels = new Float32Array(3 * 4 * 4).fill(value);
  return { name, format: "png", width: 4, height: 4, pixels, flipped: pixels.map((v) => -v) };
}

/** A fake encoder: latent_parameters [1, 2, 1, 2] = mean (first pixel, 2 x first pixel), logvar (-40, 1). */
function fakeEncoder(calls: number[][]) {
  return async (pixels: Float32Array, dims: number[]) => {
    calls.push(dims);
    return { data: Float32Array.of(pixels[0]!, 2 * pixels[0]!, -40, 1), dims: [1, 2, 1, 2] };
  };
}

describe("latent cache", () => {
  it("runs the encoder once per image and once per flipped image, and never again while sampling", async () => {
    const calls: number[][] = [];
    const cache = await LatentCache.build([image("a", 0.5), image("b", -0.25)], fakeEncoder(calls), { resolution: 4, scalingFactor: 0.18215, withFlipped: true });
    expect(calls).toEqual([[1, 3, 4, 4], [1, 3, 4, 4], [1, 3, 4, 4], [1, 3, 4, 4]]);
    expect(cache.encoderRuns).toBe(4);
    expect(cache.shape).toEqual([1, 1, 2]);
    for (let i = 0; i < 10; i++) cache.sample(i % 2, i % 3 === 0, Float32Array.of(0.1 * i, -0.2));
    expect(calls.length).toBe(4);
  });

  it("samples (mean + exp(logvar / 2) * eps) * scaling_factor with logvar clamped to [-30, 20] (diffusers' DiagonalGaussianDistribution)", async () => {
    const cache = await LatentCache.build([image("a", 0.5)], fakeEncoder([]), { resolution: 4, scalingFactor: 0.18215, withFlipped: true });
    const eps = Float32Array.of(1.5, -0.75);
    const expected = [(0.5 + Math.exp(-15) * 1.5) * 0.18215, (1.0 + Math.exp(0.5) * -0.75) * 0.18215];
    const got = cache.sample(0, false, eps);
    got.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-7));
    const flipped = cache.sample(0, true, eps);
    expect(Math.abs(flipped[0]! - (-0.5 + Math.exp(-15) * 1.5) * 0.18215)).toBeLessThan(1e-7);
    expect(() => cache.sample(1, false, eps)).toThrow(/image index 1 is outside the 1 cached images/);
    expect(() => cache.sample(0, false, Float32Array.of(1))).toThrow(/eps has 1 values, a latent sample 2/);
  });

  it("refuses encoders that do not give mean and logvar", async () => {
    const odd = async () => ({ data: new Float32Array(3), dims: [1, 3, 1, 1] });
    await expect(LatentCache.build([image("a", 0)], odd, { resolution: 4, scalingFactor: 1, withFlipped: false })).rejects.toThrow(/latent_parameters \[1, 2C, h, w\]/);
  });

  it("stores and reads back the exact distributions (bit-identical samples), and refuses other sources and malformed files", async () => {
    for (const withFlipped of [true, false]) {
      const built = await LatentCache.build([image("/tmp/x/a", 0.5), image("/tmp/x/b", -0.25)], fakeEncoder([]), { resolution: 4, scalingFactor: 0.18215, withFlipped });
      const bytes = built.encode("source-1");
      const read = LatentCache.decode(bytes, "source-1");
      expect(read.encoderRuns).toBe(0);
      expect(read.shape).toEqual(built.shape);
      expect(read.scalingFactor).toBe(0.18215);
      expect(read.images.map((i) => i.name)).toEqual(["a", "b"]);
      expect(read.images.every((i) => (i.flipped !== undefined) === withFlipped)).toBe(true);
      const eps = Float32Array.of(0.3, -1.7);
      for (const index of [0, 1]) {
        for (const flipped of withFlipped ? [false, true] : [false]) {
          expect(Buffer.from(read.sample(index, flipped, eps).buffer).equals(Buffer.from(built.sample(index, flipped, eps).buffer))).toBe(true);
        }
      }
      // Encoding is deterministic: the same cache gives the same bytes (stored objects are named by their hash).
      expect(Buffer.from(read.encode("source-1")).equals(Buffer.from(bytes))).toBe(true);
      expect(() => LatentCache.decode(bytes, "source-2")).toThrow(/built from other inputs/);
    }
    expect(() => LatentCache.decode(new Uint8Array(12), "s")).toThrow(LatentError);
    const built = await LatentCache.build([image("a", 0.5)], fakeEncoder([]), { resolution: 4, scalingFactor: 1, withFlipped: false });
    const file = decodeSafetensors(built.encode("s"));
    const { ["image.0.std"]: _dropped, ...rest } = file.tensors;
    expect(() => LatentCache.decode(encodeSafetensors(rest, file.metadata), "s")).toThrow(/image.0.std is missing/);
    expect(() => LatentCache.decode(encodeSafetensors(file.tensors, { ...file.metadata, format: "other" }), "s")).toThrow(/not a dvar-latents/);
  });
});
