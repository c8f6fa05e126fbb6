import { describe, expect, it } from "vitest";
import {
  addNoise,
  createNoiseSchedule,
  NoiseInputError,
  parseSchedulerConfig,
  SchedulerConfigError,
  trainingTarget,
} from "../../../src/core/schedule/index.js";

describe("scheduler_config.json parsing", () => {
  it("fills diffusers' DDPM/DDIM defaults", () => {
    expect(parseSchedulerConfig({})).toEqual({
      num_train_timesteps: 1000,
      beta_start: 0.0001,
      beta_end: 0.02,
      beta_schedule: "linear",
      trained_betas: null,
      prediction_type: "epsilon",
      steps_offset: 0,
      set_alpha_to_one: true,
      clip_sample: true,
      timestep_spacing: "leading",
      rescale_betas_zero_snr: false,
    });
  });

  it("keeps unknown fields without using them", () => {
    const config = parseSchedulerConfig({ _class_name: "EulerDiscreteScheduler", interpolation_type: "linear", use_karras_sigmas: false });
    expect(config).toMatchObject({ _class_name: "EulerDiscreteScheduler", interpolation_type: "linear", use_karras_sigmas: false });
  });

  it("refuses unsupported beta schedules and prediction types, naming them", () => {
    expect(() => parseSchedulerConfig({ beta_schedule: "sigmoid" })).toThrow(
      /unsupported beta_schedule "sigmoid" \(supported: linear, scaled_linear, squaredcos_cap_v2\)/,
    );
    expect(() => parseSchedulerConfig({ prediction_type: "sample" })).toThrow(/unsupported prediction_type "sample" \(supported: epsilon, v_prediction\)/);
    expect(() => parseSchedulerConfig({ rescale_betas_zero_snr: true })).toThrow(/rescale_betas_zero_snr = true is not supported/);
  });

  it("refuses malformed values with a SchedulerConfigError naming the field", () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /invalid scheduler config/],
      [{ num_train_timesteps: 1000.5 }, /num_train_timesteps/],
      [{ num_train_timesteps: 1 }, /num_train_timesteps/],
      [{ beta_start: -0.1 }, /beta_start/],
      [{ beta_end: 1.5 }, /beta_end/],
      [{ beta_end: "0.012" }, /beta_end/],
      [{ num_train_timesteps: 3, trained_betas: [0.1, 0.2] }, /trained_betas must hold num_train_timesteps values/],
      [{ steps_offset: -1 }, /steps_offset/],
      [{ timestep_spacing: "karras" }, /timestep_spacing/],
    ];
    for (const [raw, message] of bad) {
      expect(() => parseSchedulerConfig(raw)).toThrow(SchedulerConfigError);
      expect(() => parseSchedulerConfig(raw)).toThrow(message);
    }
  });
});

describe("addNoise and trainingTarget inputs", () => {
  const schedule = createNoiseSchedule({ num_train_timesteps: 10, prediction_type: "v_prediction" });
  const x0 = Float32Array.from({ length: 8 }, (_, i) => i / 8 - 0.5);
  const eps = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));

  it("uses each sample's own timestep and leaves its inputs untouched", () => {
    const before = [Float32Array.from(x0), Float32Array.from(eps)];
    const noisy = addNoise(schedule, x0, eps, [0, 9], [2, 4]);
    expect([x0, eps]).toEqual(before);
    const acp = schedule.alphasCumprod;
    for (const [b, t] of [[0, 0], [1, 9]] as const) {
      for (let j = 0; j < 4; j++) {
        const i = 4 * b + j;
        expect(noisy[i]).toBeCloseTo(Math.sqrt(acp[t]!) * x0[i]! + Math.sqrt(1 - acp[t]!) * eps[i]!, 6);
      }
    }
    const v = trainingTarget(schedule, x0, eps, [3, 3], [2, 4]);
    expect(v[5]).toBeCloseTo(Math.sqrt(acp[3]!) * eps[5]! - Math.sqrt(1 - acp[3]!) * x0[5]!, 6);
  });

  it("refuses mismatched shapes, missing or out-of-range timesteps", () => {
    expect(() => addNoise(schedule, x0, eps, [0, 1], [2, 3])).toThrow(/shape \[2, 3\] holds 6 values; latents have 8, noise 8/);
    expect(() => addNoise(schedule, x0, eps.subarray(1), [0, 1], [2, 4])).toThrow(NoiseInputError);
    expect(() => addNoise(schedule, x0, eps, [0], [2, 4])).toThrow(/one timestep per sample \(2\), got 1/);
    expect(() => addNoise(schedule, x0, eps, [0, 10], [2, 4])).toThrow(/timestep 10 of sample 1 is not an integer in \[0, 10\)/);
    expect(() => trainingTarget(schedule, x0, eps, [0, 1.5], [2, 4])).toThrow(/timestep 1.5/);
    expect(() => addNoise(schedule, x0, eps, [0, 1], [])).toThrow(/non-empty list of positive integers/);
  });
});
