import { describe, expect, it } from "vitest";
import { createNoiseSchedule } from "../../../src/core/schedule/index.js";
import { createSampler, eulerSigmas, inferenceTimesteps, roundHalfEven, SamplerError, type TimestepSpacing } from "../../../src/core/sampling/index.js";
import { firstMismatch } from "../../helpers/float32.js";
import { numbers, tensor, timestepLists } from "./fixture.js";

const SD15 = {
  _class_name: "PNDMScheduler", beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, num_train_timesteps: 1000,
  set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null, clip_sample: false,
};
const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

describe("inference timesteps: diffusers' well-known values for SD 1.5", () => {
  it("DDIM, leading spacing with steps_offset 1: 50 steps run 981, 961, ..., 1; 25 steps 961, ..., 1", () => {
    expect(createSampler(SD15, { kind: "ddim", steps: 50 }).timesteps).toEqual(range(1, 981, 20).reverse());
    expect(createSampler(SD15, { kind: "ddim", steps: 25 }).timesteps).toEqual(range(1, 961, 40).reverse());
  });

  it("trailing runs 999, 979, ..., 19 and linspace 999, 888, ..., 0 (DDIM rounds)", () => {
    expect(createSampler({ ...SD15, timestep_spacing: "trailing" }, { kind: "ddim", steps: 50 }).timesteps).toEqual(range(19, 999, 20).reverse());
    expect(createSampler({ ...SD15, timestep_spacing: "linspace" }, { kind: "ddim", steps: 10 }).timesteps).toEqual(range(0, 999, 111).reverse());
  });

  it("Euler-ancestral on SD 1.5's config defaults to linspace: starts at t = 999, sigma 14.6146", () => {
    const sampler = createSampler(SD15, { kind: "euler-ancestral", steps: 30 });
    expect(sampler.timesteps[0]).toBe(999);
    expect(sampler.timesteps[29]).toBe(0);
    expect(sampler.timesteps[1]).toBe(Math.fround(999 - 999 / 29)); // fractional, not rounded
    expect(sampler.initNoiseSigma).toBeCloseTo(14.6146, 4);
  });
});

describe("inference timesteps against numpy (diffusers' set_timesteps)", () => {
  for (const [name, spec] of Object.entries(timestepLists)) {
    it(`${name}: DDIM, Euler and PNDM timesteps and Euler sigmas for ${spec.steps.length} step counts`, () => {
      const N = spec.config.num_train_timesteps;
      const spacing = spec.config.timestep_spacing as TimestepSpacing;
      const stepsOffset = (spec.config.steps_offset as number | undefined) ?? 0;
      const schedule = createNoiseSchedule(spec.config);
      const lengths = numbers(`timesteps/${name}/lengths`);
      const ddim = numbers(`timesteps/${name}/ddim`);
      const euler = tensor(`timesteps/${name}/euler`);
      const sigmas = tensor(`timesteps/${name}/euler_sigmas`);
      const pndmTimesteps = numbers(`timesteps/${name}/pndm`);
      const pndmLengths = numbers(`timesteps/${name}/pndm_lengths`);
      let at = 0;
      let sigmaAt = 0;
      let pndmAt = 0;
      spec.steps.forEach((n, k) => {
        const length = lengths[k]!;
        const request = { numTrainTimesteps: N, steps: n, spacing, stepsOffset };
        expect(inferenceTimesteps(request), `n = ${n}`).toEqual(ddim.slice(at, at + n));
        // numpy's float arange overshoots for some n: the extra timestep is always -1, which we drop.
        expect(ddim.slice(at + n, at + length)).toEqual(Array(length - n).fill(-1));
        const ours = eulerSigmas(schedule, n, spacing, stepsOffset);
        expect(firstMismatch(ours.timesteps, euler.subarray(at, at + n)), `n = ${n}`).toBeNull();
        expect(firstMismatch(ours.sigmas.subarray(0, n), sigmas.subarray(sigmaAt, sigmaAt + n)), `n = ${n}`).toBeNull();
        expect(ours.sigmas[n]).toBe(0);
        const pndm = createSampler(spec.config, { kind: "pndm", steps: n }).timesteps;
        const reference = pndmTimesteps.slice(pndmAt, pndmAt + pndmLengths[k]!);
        if (length === n) expect(pndm, `n = ${n}`).toEqual(reference);
        else expect(reference).toContain(-1); // diffusers' overshoot again; ours has no -1
        expect(pndm).toHaveLength(n === 1 ? 1 : n + 1);
        at += length;
        sigmaAt += length + 1;
        pndmAt += pndmLengths[k]!;
      });
      expect(pndmAt).toBe(pndmTimesteps.length);
      expect(at).toBe(ddim.length);
      expect(sigmaAt).toBe(sigmas.length);
    });
  }

  it("includes step counts where numpy's arange overshoots (N = 1000, n = 61 and 103)", () => {
    const lengths = numbers("timesteps/sd15_trailing/lengths");
    const steps = timestepLists.sd15_trailing!.steps;
    expect(steps.filter((n, k) => lengths[k] !== n)).toEqual([61, 103]);
  });
});

describe("roundHalfEven and timestep errors", () => {
  it("rounds ties to even like np.round", () => {
    expect([0.5, 1.5, 2.5, 3.5, -1.5, -2.5, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, -2, -2, 2, 3, 7]);
  });

  it("refuses step counts outside [1, N] and timesteps pushed past N - 1 by steps_offset", () => {
    const request = { numTrainTimesteps: 1000, spacing: "leading" as const, stepsOffset: 1 };
    for (const steps of [0, -3, 2.5, 1001, Number.NaN]) expect(() => inferenceTimesteps({ ...request, steps })).toThrow(SamplerError);
    expect(() => inferenceTimesteps({ ...request, steps: 1000 })).toThrow(/timestep 1000 is outside \[0, 999\]/);
    expect(() => inferenceTimesteps({ ...request, steps: 10, stepsOffset: -1 })).toThrow(/steps_offset/);
    expect(inferenceTimesteps({ ...request, steps: 1000, stepsOffset: 0 })).toHaveLength(1000);
  });
});
