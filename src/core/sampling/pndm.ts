import { f32 } from "../numeric/float32.js";
import type { NoiseSchedule } from "../schedule/index.js";
import { SamplerError } from "./errors.js";
import { checkSameLength, checkStepIndex, type Sampler, type SamplerHistory } from "./sampler.js";
import { inferenceTimesteps, type TimestepSpacing } from "./timesteps.js";

export interface PndmSettings {
  schedule: NoiseSchedule;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
  /** alphas_cumprod before t = 0: 1 with set_alpha_to_one, else acp[0] (PNDM's default). */
  finalAlphaCumprod: number;
}

/** The model timesteps: t_(n-1), t_(n-2), t_(n-2), t_(n-3), ..., t_0 (the second one twice), n + 1 in all. */
function plmsTimesteps(descending: number[]): number[] {
  const ascending = [...descending].reverse();
  return [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
}

/**
 * x_(t - delta) from x_t and a noise estimate eps (Liu et al. 2022, "Pseudo Numerical
 * Methods for Diffusion Models", eq. 9), float32 as diffusers' _get_prev_sample:
 *   x_prev = sqrt(a_prev / a_t) x - (a_prev - a_t) eps / (a_t sqrt(1 - a_prev) + sqrt(a_t (1 - a_t) a_prev)).
 * A v prediction becomes eps = sqrt(a_t) v + sqrt(1 - a_t) x first.
 */
function transfer(x: Float32Array, eps: Float32Array, aT: number, aPrev: number, velocity: boolean): Float32Array {
  const bT = f32(1 - aT);
  const sqrtA = f32(Math.sqrt(aT));
  const sqrtB = f32(Math.sqrt(bT));
  const sampleCoeff = f32(Math.sqrt(f32(aPrev / aT)));
  const denominator = f32(f32(aT * f32(Math.sqrt(f32(1 - aPrev)))) + f32(Math.sqrt(f32(f32(aT * bT) * aPrev))));
  const difference = f32(aPrev - aT);
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const e = velocity ? f32(f32(sqrtA * eps[i]!) + f32(sqrtB * x[i]!)) : eps[i]!;
    out[i] = f32(sampleCoeff * x[i]!) - f32(f32(difference * e) / denominator);
  }
  return out;
}

/** Linear multistep combinations of the last model outputs (PLMS, Adams-Bashforth orders 1-4). */
function combine(ets: Float32Array[], current: Float32Array, stepIndex: number): Float32Array {
  const [e1, e2, e3, e4] = [ets.at(-1)!, ets.at(-2), ets.at(-3), ets.at(-4)];
  if (stepIndex === 1) return current.map((m, i) => f32(m + ets[0]![i]!) / 2);
  switch (ets.length) {
    case 1:
      return current;
    case 2:
      return e1.map((v, i) => f32(f32(3 * v) - e2![i]!) / 2);
    case 3:
      return e1.map((v, i) => f32(f32(f32(23 * v) - f32(16 * e2![i]!)) + f32(5 * e3![i]!)) / 12);
    default: {
      const scale = f32(1 / 24);
      return e1.map((v, i) => scale * f32(f32(f32(f32(55 * v) - f32(59 * e2![i]!)) + f32(37 * e3![i]!)) - f32(9 * e4![i]!)));
    }
  }
}

/**
 * PNDM with skip_prk_steps (PLMS), SD 1.5's default, as diffusers' PNDMScheduler.step_plms:
 *   step 0: eps_0 as is, from x at t_(n-1) to t_(n-2);
 *   step 1: the model again at t_(n-2), redo step 0 from the same x with (eps_0 + eps_1) / 2;
 *   step k >= 2: from t to t - N // n with the multistep average of the outputs so far
 *   (step 1's excluded): (3 e1 - e2) / 2, (23 e1 - 16 e2 + 5 e3) / 12, then
 *   (55 e1 - 59 e2 + 37 e3 - 9 e4) / 24.
 * The Runge-Kutta warm-up (skip_prk_steps = false) is not implemented.
 */
export function createPndmSampler(settings: PndmSettings): Sampler {
  const { schedule, steps } = settings;
  const N = schedule.numTrainTimesteps;
  const stride = Math.floor(N / steps);
  const timesteps = plmsTimesteps(inferenceTimesteps({ numTrainTimesteps: N, steps, spacing: settings.spacing, stepsOffset: settings.stepsOffset }));
  const velocity = schedule.predictionType === "v_prediction";
  const acp = (t: number) => {
    if (t >= N) throw new SamplerError(`PNDM timestep ${t} is outside [0, ${N - 1}] (${steps} steps, ${settings.spacing} spacing)`);
    return t >= 0 ? schedule.alphasCumprod[t]! : settings.finalAlphaCumprod;
  };

  return {
    kind: "pndm",
    predictionType: schedule.predictionType,
    timesteps,
    initNoiseSigma: 1,
    stochastic: false,
    historyDepth: 4,
    scaleModelInput(latents, stepIndex) {
      checkStepIndex(timesteps, stepIndex);
      return Float32Array.from(latents);
    },
    step(modelOutput, stepIndex, latents, _noise, history?: SamplerHistory) {
      checkStepIndex(timesteps, stepIndex);
      checkSameLength(modelOutput, latents);
      const depth = Math.min(4, stepIndex);
      if (history === undefined || history.outputs.length !== depth || history.latents.length !== depth) {
        throw new SamplerError(`PNDM step ${stepIndex} needs the model outputs and latents of the previous ${depth} steps`);
      }
      // Outputs of the previous steps by absolute index (step 1's output never joins the average).
      const first = stepIndex - depth;
      const earlier = history.outputs.filter((_, k) => first + k !== 1).slice(-3);
      let t = timesteps[stepIndex]!;
      let prev = t - stride;
      let sample = latents;
      if (stepIndex === 1) {
        [t, prev] = [t + stride, t];
        sample = history.latents[0]!;
      }
      const ets = stepIndex === 1 ? earlier : [...earlier, modelOutput];
      return transfer(sample, combine(ets, modelOutput, stepIndex), acp(t), acp(prev), velocity);
    },
  };
}
