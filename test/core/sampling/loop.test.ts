import { describe, expect, it } from "vitest";
import { normalsF32, RngStream } from "../../../src/core/rng/stream.js";
import { createSampler, type DenoiseFn, type DenoiseRequest, generationNoise, sampleLoop, SamplerError } from "../../../src/core/sampling/index.js";

const SD15 = { beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, set_alpha_to_one: false, steps_offset: 1, clip_sample: false };
const perImage = 4 * 2 * 3;

/** An elementwise stand-in model: what image i gets depends on image i only. */
const model: DenoiseFn = async ({ latentModelInput, timestep, guided }) => {
  const conditional = latentModelInput.map((x, k) => 0.9 * x + 0.1 * Math.sin(k % perImage) + timestep / 5000);
  const unconditional = latentModelInput.map((x) => 0.95 * x);
  return guided ? { conditional, unconditional } : { conditional };
};

describe("sampleLoop", () => {
  it("draws image i from seed + i: image i of a batch equals a run of that image alone", async () => {
    const sampler = createSampler(SD15, { kind: "euler-ancestral", steps: 6 });
    const batch = await sampleLoop({ sampler, denoise: model, latentShape: [3, 4, 2, 3], seed: 42 });
    expect(batch.seeds).toEqual([42, 43, 44]);
    expect(batch.shape).toEqual([3, 4, 2, 3]);
    for (let i = 0; i < 3; i++) {
      const alone = await sampleLoop({ sampler, denoise: model, latentShape: [1, 4, 2, 3], seed: 42 + i });
      expect(batch.latents.subarray(i * perImage, (i + 1) * perImage)).toEqual(alone.latents);
    }
    const again = await sampleLoop({ sampler, denoise: model, latentShape: [3, 4, 2, 3], seed: 42 });
    expect(again.latents).toEqual(batch.latents);
    const other = await sampleLoop({ sampler, denoise: model, latentShape: [3, 4, 2, 3], seed: 7 });
    expect(other.latents).not.toEqual(batch.latents);
  });

  it("starts from the generation stream's normals times init_noise_sigma and asks the model at each timestep in order", async () => {
    const sampler = createSampler(SD15, { kind: "ddim", steps: 4 }); // DDIM's model input is the latents themselves
    const requests: DenoiseRequest[] = [];
    await sampleLoop({ sampler, denoise: async (r) => (requests.push(r), model(r)), latentShape: [2, 4, 2, 3], seed: 9, guidanceScale: 3 });
    expect(requests.map((r) => r.timestep)).toEqual([751, 501, 251, 1]);
    expect(requests.map((r) => r.stepIndex)).toEqual([0, 1, 2, 3]);
    expect(requests.every((r) => r.guided)).toBe(true);
    const first = requests[0]!.latentModelInput;
    expect(first.subarray(perImage)).toEqual(normalsF32({ seed: 10, stream: RngStream.generation, step: 0 }, perImage));
    expect(generationNoise(9, 0, 2, perImage)).toEqual(first);
  });

  it("applies guidance: the result depends on the scale, and g = 1 never asks for the unconditional output", async () => {
    const sampler = createSampler(SD15, { kind: "euler", steps: 5 });
    const run = (guidanceScale: number, denoise: DenoiseFn = model) => sampleLoop({ sampler, denoise, latentShape: [1, 4, 2, 3], seed: 1, guidanceScale });
    const unguided = await run(1, async (r) => {
      expect(r.guided).toBe(false);
      return { conditional: (await model(r)).conditional };
    });
    expect(unguided.latents).toEqual((await run(1)).latents);
    expect((await run(7.5)).latents).not.toEqual(unguided.latents);
    expect((await run(7.5)).latents).toEqual((await sampleLoop({ sampler, denoise: model, latentShape: [1, 4, 2, 3], seed: 1 })).latents); // default 7.5
  });

  it("reports every step and never mutates what it handed out", async () => {
    const sampler = createSampler(SD15, { kind: "euler-ancestral", steps: 5 });
    const seen: Float32Array[] = [];
    const copies: Float32Array[] = [];
    const result = await sampleLoop({
      sampler, denoise: model, latentShape: [1, 4, 2, 3], seed: 3,
      onStep: ({ latents }) => (seen.push(latents), copies.push(Float32Array.from(latents))),
    });
    expect(seen).toHaveLength(5);
    seen.forEach((latents, i) => expect(latents).toEqual(copies[i]));
    expect(new Set(seen).size).toBe(5);
    expect(result.latents).toBe(seen[4]);
  });

  it("refuses bad shapes, seeds, scales and model outputs with clear errors", async () => {
    const sampler = createSampler(SD15, { kind: "ddim", steps: 3 });
    const base = { sampler, denoise: model, latentShape: [1, 4, 2, 3], seed: 0 };
    await expect(sampleLoop({ ...base, latentShape: [0, 4] })).rejects.toThrow(/latent shape must be/);
    await expect(sampleLoop({ ...base, latentShape: [4] })).rejects.toThrow(SamplerError);
    await expect(sampleLoop({ ...base, seed: -1 })).rejects.toThrow(/seed must be a non-negative safe integer/);
    await expect(sampleLoop({ ...base, seed: Number.MAX_SAFE_INTEGER, latentShape: [2, 4, 2, 3] })).rejects.toThrow(/seed/);
    await expect(sampleLoop({ ...base, guidanceScale: 0.5 })).rejects.toThrow(/guidance scale/);
    await expect(sampleLoop({ ...base, denoise: async (r) => ({ conditional: r.latentModelInput }) })).rejects.toThrow(/unconditional output of no values at step 0/);
    await expect(sampleLoop({ ...base, denoise: async () => ({ conditional: new Float32Array(5) }) })).rejects.toThrow(/conditional output of 5 values at step 0, expected 24/);
    await expect(sampleLoop({ ...base, initialNoise: new Float32Array(3) })).rejects.toThrow(/initial noise has 3 values/);
  });
});
