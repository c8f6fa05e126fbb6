import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { addNoise, createNoiseSchedule, linspaceF32, trainingTarget, velocity } from "../../../src/core/schedule/index.js";
import { firstMismatch, maxUlpDistance } from "../../helpers/float32.js";

// Reference: tools/reference/schedules.py, torch 1.13 float32 on CPU restating diffusers'
// DDPMScheduler (betas, alphas_cumprod, add_noise, get_velocity). Tolerance: none, all
// values must be bit-identical (torch's linspace and cumprod roundings are reproduced).
const fixture = decodeSafetensors(readFileSync(new URL("../../fixtures/schedules.safetensors", import.meta.url)));
const cases = JSON.parse(fixture.metadata.cases!) as Record<string, Record<string, unknown>>;
const f32 = (name: string) => fixture.tensors[name]!.data as Float32Array;
const latents = f32("latents");
const noise = f32("noise");
const shape = fixture.tensors.latents!.shape;

describe("noise schedules against torch (diffusers' formulas)", () => {
  it("covers the three beta schedules, trained betas and both prediction types", () => {
    const configs = Object.values(cases);
    expect(new Set(configs.map((c) => (c.trained_betas ? "trained" : (c.beta_schedule ?? "linear"))))).toEqual(
      new Set(["linear", "scaled_linear", "squaredcos_cap_v2", "trained"]),
    );
    expect(new Set(configs.map((c) => c.prediction_type ?? "epsilon"))).toEqual(new Set(["epsilon", "v_prediction"]));
  });

  for (const [name, config] of Object.entries(cases)) {
    it(`${name}: betas, alphas_cumprod, add_noise and targets are bit-identical`, () => {
      const schedule = createNoiseSchedule(config);
      const timesteps = Array.from(fixture.tensors[`${name}/timesteps`]!.data as BigInt64Array, Number);
      expect(firstMismatch(schedule.betas, f32(`${name}/betas`)), "betas").toBeNull();
      expect(firstMismatch(schedule.alphasCumprod, f32(`${name}/alphas_cumprod`)), "alphas_cumprod").toBeNull();
      expect(firstMismatch(addNoise(schedule, latents, noise, timesteps, shape), f32(`${name}/noisy`)), "add_noise").toBeNull();
      const v = velocity(schedule, latents, noise, timesteps, shape);
      expect(firstMismatch(v, f32(`${name}/velocity`)), "velocity").toBeNull();
      const target = trainingTarget(schedule, latents, noise, timesteps, shape);
      expect(firstMismatch(target, schedule.predictionType === "v_prediction" ? v : noise)).toBeNull();
      expect(target).not.toBe(noise);
    });
  }

  it("keeps the sampler fields and unknown fields of SD 1.5's config", () => {
    const schedule = createNoiseSchedule(cases.sd15);
    expect(schedule.config).toMatchObject({ steps_offset: 1, set_alpha_to_one: false, clip_sample: false, skip_prk_steps: true, _class_name: "PNDMScheduler" });
    expect(schedule.finalAlphaCumprod).toBe(schedule.alphasCumprod[0]);
    expect(createNoiseSchedule({}).finalAlphaCumprod).toBe(1);
    expect(createNoiseSchedule(cases.sd15).alphasCumprod[999]).toBeCloseTo(0.0047, 4); // SD's well-known terminal value
  });
});

describe("linspaceF32", () => {
  const { start, end, sizes } = JSON.parse(fixture.metadata.linspace!) as { start: number; end: number; sizes: number[] };

  it("matches torch.linspace(float32) bit for bit around its 16-value blocks", () => {
    for (const n of sizes) expect(firstMismatch(linspaceF32(start, end, n), f32(`linspace/${n}`)), `n = ${n}`).toBeNull();
    // torch's last value is not always `end` (here n = 16: the last lane of a vector block).
    expect(f32("linspace/16")[15]).not.toBe(Math.fround(end));
  });

  it("stays within 1 ulp of a float64 linspace rounded to float32", () => {
    for (const n of [2, 3, 15, 16, 17, 31, 33, 77, 999, 1000]) {
      const ours = linspaceF32(start, end, n);
      const plain = Float32Array.from({ length: n }, (_, i) => start + ((end - start) * i) / (n - 1));
      expect(maxUlpDistance(ours, plain)).toBeLessThanOrEqual(1);
      expect(ours[0]).toBe(Math.fround(start));
    }
  });
});
