import { describe, expect, it } from "vitest";
import { SchedulerConfigError } from "../../../src/core/schedule/index.js";
import { createSampler, DDIM_FALLBACK_CLASSES, SamplerError, samplerKindForConfig } from "../../../src/core/sampling/index.js";

const SD15 = {
  _class_name: "PNDMScheduler", beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, num_train_timesteps: 1000,
  set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null, clip_sample: false,
};

describe("which sampler a scheduler config asks for", () => {
  it("maps the four implemented diffusers classes to their samplers (PNDM with skip_prk_steps)", () => {
    expect(samplerKindForConfig({ _class_name: "DDIMScheduler" })).toEqual({ kind: "ddim", configClass: "DDIMScheduler", fallback: false });
    expect(samplerKindForConfig({ _class_name: "EulerDiscreteScheduler" }).kind).toBe("euler");
    expect(samplerKindForConfig({ _class_name: "EulerAncestralDiscreteScheduler" }).kind).toBe("euler-ancestral");
    expect(samplerKindForConfig({})).toEqual({ kind: "ddim", configClass: null, fallback: false });
    expect(samplerKindForConfig(SD15)).toEqual({ kind: "pndm", configClass: "PNDMScheduler", fallback: false });
    const sampler = createSampler(SD15, { steps: 50 });
    expect(sampler.kind).toBe("pndm");
    expect(sampler.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]); // n + 1 model evaluations
    expect(sampler.timesteps).toHaveLength(51);
  });

  it("falls back to DDIM for diffusers' DDIM-compatible classes and for PNDM's Runge-Kutta warm-up", () => {
    for (const name of DDIM_FALLBACK_CLASSES) expect(samplerKindForConfig({ _class_name: name })).toMatchObject({ kind: "ddim", fallback: true });
    const prk = { ...SD15, skip_prk_steps: false };
    expect(samplerKindForConfig(prk)).toEqual({ kind: "ddim", configClass: "PNDMScheduler", fallback: true });
    const { skip_prk_steps: _, ...noFlag } = SD15;
    expect(samplerKindForConfig(noFlag).kind).toBe("ddim");
    const sampler = createSampler({ ...SD15, _class_name: "DPMSolverMultistepScheduler" }, { steps: 50 });
    expect(sampler.kind).toBe("ddim");
    expect(sampler.timesteps[0]).toBe(981); // the config's own spacing and offset
  });

  it("refuses unknown classes, naming what is supported", () => {
    for (const name of ["LCMScheduler", "FlowMatchEulerDiscreteScheduler", "MyScheduler"]) {
      expect(() => samplerKindForConfig({ _class_name: name })).toThrow(SamplerError);
      expect(() => createSampler({ _class_name: name }, { steps: 10 })).toThrow(new RegExp(`scheduler ${name} is not supported: supported DDIMScheduler`));
    }
    expect(() => samplerKindForConfig({ _class_name: 3 })).toThrow(/_class_name must be a string/);
    expect(createSampler({ _class_name: "LCMScheduler" }, { kind: "euler", steps: 10 }).kind).toBe("euler"); // an explicit choice wins
  });
});

describe("createSampler reads the config as the sampler's diffusers class would", () => {
  it("a missing timestep_spacing means leading for DDIM and PNDM and linspace for both Euler samplers", () => {
    expect(createSampler(SD15, { kind: "ddim", steps: 10 }).timesteps[0]).toBe(901);
    expect(createSampler(SD15, { kind: "pndm", steps: 10 }).timesteps[0]).toBe(901);
    expect(createSampler(SD15, { kind: "euler", steps: 10 }).timesteps[0]).toBe(999);
    expect(createSampler(SD15, { kind: "euler-ancestral", steps: 10 }).timesteps[0]).toBe(999);
    expect(createSampler({ ...SD15, timestep_spacing: "leading" }, { kind: "euler", steps: 10 }).timesteps[0]).toBe(901);
  });

  it("a missing set_alpha_to_one means true for DDIM and false for PNDM", () => {
    const { set_alpha_to_one: _, ...config } = SD15;
    const x = Float32Array.of(0.5, -0.25, 1);
    const eps = Float32Array.of(0.1, 0.2, -0.3);
    // One step from t = 1 to "t = -999": the final alphas_cumprod decides the result.
    const lastStep = (c: object, kind: "ddim" | "pndm") => createSampler(c, { kind, steps: 1 }).step(eps, 0, x, undefined, { outputs: [], latents: [] });
    expect(lastStep(config, "ddim")).toEqual(lastStep({ ...config, set_alpha_to_one: true }, "ddim"));
    expect(lastStep(config, "ddim")).not.toEqual(lastStep({ ...config, set_alpha_to_one: false }, "ddim"));
    expect(lastStep(config, "pndm")).toEqual(lastStep({ ...config, set_alpha_to_one: false }, "pndm"));
    expect(lastStep(config, "pndm")).not.toEqual(lastStep({ ...config, set_alpha_to_one: true }, "pndm"));
  });

  it("init_noise_sigma: 1 for DDIM, max sigma for linspace/trailing, sqrt(max^2 + 1) for leading", () => {
    expect(createSampler(SD15, { kind: "ddim", steps: 10 }).initNoiseSigma).toBe(1);
    const linspace = createSampler(SD15, { kind: "euler", steps: 10 }).initNoiseSigma;
    const leading = createSampler({ ...SD15, timestep_spacing: "leading" }, { kind: "euler", steps: 10 });
    const top = (leading as unknown as { sigmas: Float32Array }).sigmas[0]!;
    expect(leading.initNoiseSigma).toBeCloseTo(Math.sqrt(top * top + 1), 5);
    expect(top).toBeLessThan(linspace);
  });

  it("refuses settings this project does not implement, with the field named", () => {
    expect(() => createSampler({ thresholding: true }, { kind: "ddim", steps: 10 })).toThrow(/thresholding = true \(dynamic thresholding\) is not supported/);
    expect(() => createSampler({ clip_sample_range: 0 }, { kind: "ddim", steps: 10 })).toThrow(/clip_sample_range/);
    for (const [field, value] of [["use_karras_sigmas", true], ["use_exponential_sigmas", true], ["use_beta_sigmas", true], ["interpolation_type", "log_linear"], ["timestep_type", "continuous"], ["final_sigmas_type", "sigma_min"]] as const) {
      expect(() => createSampler({ [field]: value }, { kind: "euler", steps: 10 }), field).toThrow(new RegExp(field));
      expect(createSampler({ [field]: value }, { kind: "ddim", steps: 10 }).kind).toBe("ddim"); // Euler-only fields
    }
    expect(createSampler({ use_karras_sigmas: null }, { kind: "euler", steps: 10 }).kind).toBe("euler");
    expect(() => createSampler({ prediction_type: "sample" }, { kind: "ddim", steps: 10 })).toThrow(SchedulerConfigError);
    expect(() => createSampler({ timestep_spacing: "karras" }, { kind: "ddim", steps: 10 })).toThrow(SchedulerConfigError);
  });

  it("refuses bad options: unknown sampler, eta outside [0, 1] or for Euler, bad step counts", () => {
    expect(() => createSampler({}, { kind: "plms" as "ddim", steps: 10 })).toThrow(/unknown sampler "plms"/);
    for (const eta of [-0.1, 1.5, Number.NaN]) expect(() => createSampler({}, { kind: "ddim", steps: 10, eta })).toThrow(/eta must be in \[0, 1\]/);
    expect(() => createSampler({}, { kind: "euler-ancestral", steps: 10, eta: 0.5 })).toThrow(/eta applies to DDIM only/);
    expect(() => createSampler({}, { kind: "pndm", steps: 10, eta: 0.5 })).toThrow(/eta applies to DDIM only/);
    expect(() => createSampler({}, { kind: "euler", steps: 0 })).toThrow(/steps must be an integer in \[1, 1000\]/);
    expect(() => createSampler({ num_train_timesteps: 50 }, { kind: "ddim", steps: 51 })).toThrow(/\[1, 50\]/);
  });
});
