import type { OptimizerState } from "./optimizer.js";

/** A hyper-parameter or learning rate an optimizer cannot use. */
export class OptimizerConfigError extends Error {
  override name = "OptimizerConfigError";
}

/** Parameters, state or gradient that do not fit together. */
export class OptimizerInputError extends Error {
  override name = "OptimizerInputError";
}

/** Throws unless `value` is a finite number in [min, max). */
export function requireInRange(optimizer: string, field: string, value: number, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value >= max) {
    throw new OptimizerConfigError(`${optimizer}: ${field} must be a finite number in [${min}, ${max}), got ${String(value)}`);
  }
}

export function requirePositive(optimizer: string, field: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || !(value > 0)) {
    throw new OptimizerConfigError(`${optimizer}: ${field} must be a finite number > 0, got ${String(value)}`);
  }
}

export function requireLearningRate(optimizer: string, lr: number): void {
  requireInRange(optimizer, "learning rate", lr, 0, Infinity);
}

/** Checks that `state` holds float32 buffers `names`, each the size of `params`. */
export function requireState(optimizer: string, params: Float32Array, state: OptimizerState, names: readonly string[]): void {
  if (!(params instanceof Float32Array)) throw new OptimizerInputError(`${optimizer}: params must be a Float32Array`);
  if (!Number.isSafeInteger(state?.step) || state.step < 0) {
    throw new OptimizerInputError(`${optimizer}: state.step must be a non-negative integer, got ${String(state?.step)}`);
  }
  for (const name of names) {
    const buffer = state.buffers?.[name];
    if (!(buffer instanceof Float32Array)) throw new OptimizerInputError(`${optimizer}: state buffer '${name}' is missing`);
    if (buffer.length !== params.length) {
      throw new OptimizerInputError(`${optimizer}: state buffer '${name}' has ${buffer.length} values, params have ${params.length}`);
    }
  }
}

export function requireGradient(optimizer: string, grad: Float32Array, size: number): void {
  if (!(grad instanceof Float32Array) || grad.length !== size) {
    const got = grad instanceof Float32Array ? `${grad.length} values` : typeof grad;
    throw new OptimizerInputError(`${optimizer}: the gradient must be a Float32Array of ${size} values, got ${got}`);
  }
}
