import { describe, expect, it } from "vitest";
import { f32 } from "../../../src/core/numeric/float32.js";
import { createSampler, type DenoiseFn, sampleLoop } from "../../../src/core/sampling/index.js";
import { firstMismatch } from "../../helpers/float32.js";
import { fixture, numbers, row, tensor, trajectoryCases } from "./fixture.js";

// Reference: tools/reference/samplers.py, torch 1.13 float32 on CPU restating diffusers'
// DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, PNDMScheduler
// (skip_prk_steps, stateful as in diffusers) and the
// StableDiffusionPipeline loop (CFG included), with an analytic model and recorded noise.
// Tolerance: none. Every latent of every step must be bit-identical (each torch op's
// float32 rounding is reproduced; the ops are IEEE-exact, sqrt included).
const patterns = { uncond: tensor("pattern/uncond"), cond: tensor("pattern/cond") };
const shape = fixture.tensors["pattern/cond"]!.shape;

/** The reference's stand-in UNet: x * f32(0.8 + 0.15 t / N) + pattern * f32(0.3 - 0.2 t / N). */
function analyticModel(x: Float32Array, t: number, N: number, pattern: Float32Array): Float32Array {
  const a = f32(0.8 + (0.15 * t) / N);
  const b = f32(0.3 - (0.2 * t) / N);
  return x.map((v, i) => f32(v * a) + f32(pattern[i]! * b));
}

describe("sampler trajectories against torch (diffusers' formulas)", () => {
  it("covers every sampler, both prediction types, all spacings, eta > 0, clipping and g = 1", () => {
    const cases = Object.values(trajectoryCases);
    expect(new Set(cases.map((c) => c.sampler))).toEqual(new Set(["ddim", "euler", "euler-ancestral", "pndm"]));
    expect(new Set(cases.map((c) => c.config.prediction_type ?? "epsilon"))).toEqual(new Set(["epsilon", "v_prediction"]));
    expect(new Set(cases.map((c) => c.config.timestep_spacing ?? "default"))).toEqual(new Set(["default", "leading", "trailing", "linspace"]));
    expect(cases.some((c) => c.eta > 0)).toBe(true);
    expect(cases.some((c) => c.config.clip_sample === true)).toBe(true);
    expect(cases.some((c) => c.guidance === 1)).toBe(true);
  });

  for (const [name, c] of Object.entries(trajectoryCases)) {
    it(`${name}: timesteps, sigmas and every step's latents are bit-identical`, async () => {
      const sampler = createSampler(c.config, { kind: c.sampler, steps: c.steps, eta: c.eta });
      const N = (c.config.num_train_timesteps as number | undefined) ?? 1000;
      expect(sampler.timesteps).toEqual(numbers(`${name}/timesteps`));
      expect(sampler.initNoiseSigma).toBe(tensor(`${name}/init_noise_sigma`)[0]);
      if ("sigmas" in sampler) expect(firstMismatch(sampler.sigmas as Float32Array, tensor(`${name}/sigmas`))).toBeNull();
      expect(sampler.stochastic).toBe(`${name}/step_noise` in fixture.tensors);

      let modelCalls = 0;
      const denoise: DenoiseFn = async ({ latentModelInput, timestep, guided }) => {
        modelCalls++;
        const conditional = analyticModel(latentModelInput, timestep, N, patterns.cond);
        return guided ? { conditional, unconditional: analyticModel(latentModelInput, timestep, N, patterns.uncond) } : { conditional };
      };
      const mismatches: string[] = [];
      const initialNoise = tensor(`${name}/init_noise`);
      const result = await sampleLoop({
        sampler,
        denoise,
        latentShape: shape,
        seed: 0,
        guidanceScale: c.guidance,
        initialNoise,
        stepNoise: sampler.stochastic ? (i) => row(`${name}/step_noise`, i) : undefined,
        onStep: ({ stepIndex, latents }) => {
          const mismatch = firstMismatch(latents, row(`${name}/latents`, stepIndex + 1));
          if (mismatch !== null) mismatches.push(`step ${stepIndex}: ${mismatch}`);
        },
      });
      expect(firstMismatch(initialNoise.map((z) => z * f32(sampler.initNoiseSigma)), row(`${name}/latents`, 0))).toBeNull();
      expect(mismatches).toEqual([]);
      const evaluations = c.sampler === "pndm" && c.steps > 1 ? c.steps + 1 : c.steps;
      expect(modelCalls).toBe(evaluations);
      expect(firstMismatch(result.latents, row(`${name}/latents`, evaluations))).toBeNull();
    });
  }
});
