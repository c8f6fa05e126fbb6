import { SamplerError } from "./errors.js";

export const TIMESTEP_SPACINGS = ["leading", "trailing", "linspace"] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** numpy's round (np.round / np.rint): to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties toward +infinity
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * np.linspace(0, stop, n) in float64 as numpy 1.24 computes it: i * (stop / (n - 1)),
 * the last value set to `stop` exactly.
 */
function numpyLinspace(stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) return out;
  const step = stop / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step;
  out[n - 1] = stop;
  return out;
}

/**
 * np.arange(start, 0, -ratio) for a float step: length ceil(-start / -ratio); numpy
 * stores start and start - ratio, then fills value i = start + i * (second - start).
 */
function numpyArangeDown(start: number, ratio: number): Float64Array {
  const length = Math.max(0, Math.ceil((0 - start) / -ratio));
  const out = new Float64Array(length);
  if (length > 0) out[0] = start;
  if (length > 1) out[1] = start - ratio;
  const delta = (start - ratio) - start;
  for (let i = 2; i < length; i++) out[i] = start + i * delta;
  return out;
}

export interface TimestepRequest {
  numTrainTimesteps: number;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
}

function checkRequest({ numTrainTimesteps, steps, stepsOffset }: TimestepRequest): void {
  if (!Number.isSafeInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new SamplerError(`steps must be an integer in [1, ${numTrainTimesteps}] (num_train_timesteps), got ${steps}`);
  }
  if (!Number.isSafeInteger(stepsOffset) || stepsOffset < 0) {
    throw new SamplerError(`steps_offset must be a non-negative integer, got ${stepsOffset}`);
  }
}

/**
 * The inference timesteps as diffusers' set_timesteps computes them (DDIM, Euler and
 * Euler-ancestral agree on the values; Euler keeps linspace's fractions, see below):
 * - leading:  (arange(n) * (N // n)) reversed, + steps_offset;
 * - trailing: round(arange(N, 0, -N / n)) - 1;
 * - linspace: linspace(0, N - 1, n) reversed; `fractional` keeps the float32 values
 *   (Euler), otherwise they are rounded half to even (DDIM).
 * numpy's float arange yields n + 1 values for some n (e.g. N = 1000, n = 61): the extra
 * one is -1, which diffusers would index as alphas_cumprod[-1]; we keep the first n.
 * A timestep outside [0, N) (leading with a large steps_offset) is refused.
 */
export function inferenceTimesteps(request: TimestepRequest, fractional = false): number[] {
  checkRequest(request);
  const { numTrainTimesteps: N, steps: n, spacing, stepsOffset } = request;
  let timesteps: number[];
  switch (spacing) {
    case "leading": {
      const ratio = Math.floor(N / n);
      timesteps = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
      break;
    }
    case "trailing":
      timesteps = Array.from(numpyArangeDown(N, N / n).subarray(0, n), (t) => roundHalfEven(t) - 1);
      break;
    case "linspace":
      timesteps = Array.from(numpyLinspace(N - 1, n), (t) => (fractional ? Math.fround(t) : roundHalfEven(t))).reverse();
      break;
  }
  const bad = timesteps.find((t) => !(t >= 0 && t <= N - 1));
  if (bad !== undefined) {
    throw new SamplerError(
      `timestep ${bad} is outside [0, ${N - 1}] (${n} steps, ${spacing} spacing, steps_offset ${stepsOffset})`,
    );
  }
  return timesteps;
}

/**
 * np.interp(x, arange(len(table)), table) in float64 for x in [0, len - 1]: the table
 * value at integer x, else slope * (x - j) + table[j] with slope = table[j+1] - table[j].
 */
export function interpolateTable(table: ArrayLike<number>, x: number): number {
  const last = table.length - 1;
  if (!(x >= 0 && x <= last)) throw new SamplerError(`cannot interpolate at ${x}: outside [0, ${last}]`);
  const j = Math.floor(x);
  if (j === x) return table[j]!;
  const slope = table[j + 1]! - table[j]!;
  return slope * (x - j) + table[j]!;
}
