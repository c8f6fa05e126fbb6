import { describe, expect, it } from "vitest";
import { createNoiseSchedule } from "../../../src/core/schedule/index.js";
import { createSampler, type Sampler, SamplerError, type SamplerHistory } from "../../../src/core/sampling/index.js";

// Properties from the papers, independent of the torch fixture: given the exact noise
// (or velocity) of x_t, DDIM (Song et al. 2021, eq. 12 with sigma = 0) lands exactly on
// the forward process at the previous timestep, and an Euler step in sigma space
// (Karras et al. 2022) moves x0 + sigma_i eps to x0 + sigma_{i+1} eps.
// Tolerance: 1e-5 absolute on O(1) values (float32 rounding of a few operations).
const SD15 = { beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, set_alpha_to_one: false, steps_offset: 1, clip_sample: false };
const V = { ...SD15, prediction_type: "v_prediction" };
const x0 = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1) * 0.8);
const eps = Float32Array.from({ length: 24 }, (_, i) => Math.cos(3 * i + 0.5) * 1.3);
const combine = (a: number, x: Float32Array, b: number, y: Float32Array) => x.map((v, i) => a * v + b * y[i]!);

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5) {
  expect(actual.length).toBe(expected.length);
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  expect(worst).toBeLessThan(tolerance);
}

describe("samplers given the exact noise land on the forward process", () => {
  for (const [name, config] of [["epsilon", SD15], ["v_prediction", V]] as const) {
    it(`DDIM eta = 0, ${name}: x_t -> sqrt(a_prev) x0 + sqrt(1 - a_prev) eps, ending at x0 (set_alpha_to_one)`, () => {
      const schedule = createNoiseSchedule(config);
      const sampler = createSampler({ ...config, set_alpha_to_one: true }, { kind: "ddim", steps: 10 });
      const acp = (t: number) => (t >= 0 ? schedule.alphasCumprod[t]! : 1);
      for (let i = 0; i < sampler.timesteps.length; i++) {
        const t = sampler.timesteps[i]!;
        const a = acp(t);
        const xt = combine(Math.sqrt(a), x0, Math.sqrt(1 - a), eps);
        const output = name === "epsilon" ? eps : combine(Math.sqrt(a), eps, -Math.sqrt(1 - a), x0);
        const aPrev = acp(t - 100);
        expectClose(sampler.step(output, i, xt), combine(Math.sqrt(aPrev), x0, Math.sqrt(1 - aPrev), eps));
      }
    });

    it(`Euler, ${name}: x0 + sigma_i eps -> x0 + sigma_(i+1) eps; the model sees sqrt(a) x0 + sqrt(1 - a) eps`, () => {
      const sampler = createSampler(config, { kind: "euler", steps: 12 }) as Sampler & { sigmas: Float32Array };
      for (let i = 0; i < 12; i++) {
        const sigma = sampler.sigmas[i]!;
        const x = combine(1, x0, sigma, eps);
        const input = sampler.scaleModelInput(x, i);
        const a = 1 / (1 + sigma * sigma);
        expectClose(input, combine(Math.sqrt(a), x0, Math.sqrt(1 - a), eps), 1e-5 * (1 + sigma));
        const output = name === "epsilon" ? eps : combine(Math.sqrt(a), eps, -Math.sqrt(1 - a), x0);
        expectClose(sampler.step(output, i, x), combine(1, x0, sampler.sigmas[i + 1]!, eps), 1e-5 * (1 + sigma));
      }
    });
  }

  it("PNDM (PLMS): every multistep average of the exact eps is eps, so each step lands on the forward process", () => {
    const schedule = createNoiseSchedule(SD15);
    const sampler = createSampler(SD15, { kind: "pndm", steps: 8 });
    const at = (t: number) => {
      const a = t >= 0 ? schedule.alphasCumprod[t]! : schedule.alphasCumprod[0]!;
      return combine(Math.sqrt(a), x0, Math.sqrt(1 - a), eps);
    };
    const ts = sampler.timesteps;
    expect(ts).toEqual([876, 751, 751, 626, 501, 376, 251, 126, 1]);
    const history = (i: number): SamplerHistory => ({
      outputs: Array(Math.min(4, i)).fill(eps),
      latents: Array.from({ length: Math.min(4, i) }, (_, k) => at(ts[i - Math.min(4, i) + k]!)),
    });
    // Step 1 restarts from step 0's latents (t = 876) and lands on t = 751 again.
    expectClose(sampler.step(eps, 1, at(751), undefined, history(1)), at(751));
    for (let i = 0; i < ts.length; i++) {
      if (i !== 1) expectClose(sampler.step(eps, i, at(ts[i]!), undefined, history(i)), at(ts[i]! - 125));
    }
  });

  it("Euler-ancestral: steps to x0 + sigma_down eps + sigma_up z with sigma_up^2 + sigma_down^2 = sigma_next^2", () => {
    const sampler = createSampler(SD15, { kind: "euler-ancestral", steps: 8 }) as Sampler & { sigmas: Float32Array };
    const z = Float32Array.from({ length: 24 }, (_, i) => ((i * 7) % 5) - 2);
    for (let i = 0; i < 8; i++) {
      const [s, next] = [sampler.sigmas[i]!, sampler.sigmas[i + 1]!];
      const up = Math.sqrt((next * next * (s * s - next * next)) / (s * s));
      const down = Math.sqrt(next * next - up * up);
      const x = combine(1, x0, s, eps);
      const expected = combine(1, combine(1, x0, down, eps), up, z);
      expectClose(sampler.step(eps, i, x, () => z), expected, 1e-5 * (1 + s));
    }
    expect(sampler.sigmas[8]).toBe(0);
  });
});

describe("sampler contract", () => {
  const samplers = [
    createSampler(SD15, { kind: "ddim", steps: 5, eta: 0.3 }),
    createSampler(SD15, { kind: "euler", steps: 5 }),
    createSampler(V, { kind: "euler-ancestral", steps: 5 }),
    createSampler(V, { kind: "pndm", steps: 4 }),
  ];
  const noise = () => Float32Array.from(eps);
  const history = (sampler: Sampler, i: number): SamplerHistory => {
    const depth = Math.min(sampler.historyDepth, i);
    return { outputs: Array(depth).fill(eps), latents: Array(depth).fill(x0) };
  };

  for (const sampler of samplers) {
    it(`${sampler.kind}: pure (inputs untouched, new arrays) and deterministic`, () => {
      const latents = Float32Array.from(x0);
      const output = Float32Array.from(eps);
      const input = sampler.scaleModelInput(latents, 2);
      const next = sampler.step(output, 2, latents, noise, history(sampler, 2));
      expect(input).not.toBe(latents);
      expect(next).not.toBe(latents);
      expect(latents).toEqual(x0);
      expect(output).toEqual(eps);
      expect(sampler.step(output, 2, latents, noise, history(sampler, 2))).toEqual(next);
      expect(next.every(Number.isFinite)).toBe(true);
    });

    it(`${sampler.kind}: refuses bad step indices, mismatched lengths and bad noise`, () => {
      for (const i of [-1, sampler.timesteps.length, 1.5]) {
        expect(() => sampler.step(eps, i, x0, noise, history(sampler, 2))).toThrow(SamplerError);
        expect(() => sampler.scaleModelInput(x0, i)).toThrow(/step index/);
      }
      expect(() => sampler.step(eps.subarray(1), 0, x0, noise, history(sampler, 0))).toThrow(/model output has 23 values, latents 24/);
      if (sampler.historyDepth > 0) {
        expect(() => sampler.step(eps, 2, x0)).toThrow(/PNDM step 2 needs the model outputs and latents of the previous 2 steps/);
        expect(() => sampler.step(eps, 3, x0, undefined, history(sampler, 2))).toThrow(/previous 3 steps/);
      }
      if (sampler.stochastic) {
        expect(() => sampler.step(eps, 0, x0)).toThrow(/needs a noise source/);
        expect(() => sampler.step(eps, 0, x0, () => new Float32Array(3))).toThrow(/gave 3 values for step 0, expected 24/);
      }
    });
  }

  it("DDIM with eta = 0 is deterministic and never asks for noise; eta > 0 adds it", () => {
    const deterministic = createSampler(SD15, { kind: "ddim", steps: 5 });
    expect(deterministic.stochastic).toBe(false);
    const noisy = createSampler(SD15, { kind: "ddim", steps: 5, eta: 1 });
    const asked: number[] = [];
    const stepped = noisy.step(eps, 1, x0, (i, n) => (asked.push(i), new Float32Array(n).fill(1)));
    expect(asked).toEqual([1]);
    expect(stepped).not.toEqual(noisy.step(eps, 1, x0, (_, n) => new Float32Array(n)));
    expect(deterministic.step(eps, 1, x0, () => { throw new Error("must not draw"); })).toBeInstanceOf(Float32Array);
  });

  it("DDIM clip_sample clips the predicted x0 to clip_sample_range", () => {
    const config = { ...SD15, clip_sample: true, clip_sample_range: 0.25, set_alpha_to_one: true };
    const sampler = createSampler(config, { kind: "ddim", steps: 4 });
    // At the last step (a_prev = 1) DDIM returns x0 itself.
    const last = sampler.step(eps, 3, combine(1, x0, 0.5, eps));
    expect(Math.max(...last.map(Math.abs))).toBeCloseTo(0.25, 6);
    const unclipped = createSampler({ ...config, clip_sample: false }, { kind: "ddim", steps: 4 }).step(eps, 3, combine(1, x0, 0.5, eps));
    expect(Math.max(...unclipped.map(Math.abs))).toBeGreaterThan(0.5);
  });
});
