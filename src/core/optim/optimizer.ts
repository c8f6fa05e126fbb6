/**
 * The optimizer contract shared by AdamW, SAM and anything later.
 *
 * Parameters are one flat Float32Array (the k learned token vectors, row-major).
 * State is plain data (a step counter and named float32 buffers), so the checkpoint
 * codec can store it bit-exactly and a resumed run continues identically.
 */

/** Loss and gradient of the training objective at some parameters. */
export interface LossAndGradient {
  loss: number;
  grad: Float32Array;
}

/**
 * Evaluates the training objective of the current step at `params`. SAM calls it
 * twice per step (at w and at w + e(w)) on the same batch, so it must be a pure
 * function of `params` for a given step.
 */
export type GradientFn = (params: Float32Array) => Promise<LossAndGradient>;

export interface OptimizerState {
  /** Completed updates (PyTorch's `state["step"]`). */
  step: number;
  /** Named per-parameter buffers (moments, momentum), each the size of `params`. */
  buffers: Record<string, Float32Array>;
}

export interface OptimizerStepResult extends LossAndGradient {
  /** Parameters after the update (a new array; the input is not modified). */
  params: Float32Array;
  /** State after the update (new buffers; the input is not modified). */
  state: OptimizerState;
}

export interface Optimizer {
  /** Stable name stored in checkpoints ("adamw", "sam"). */
  readonly name: string;
  /** Gradient evaluations per step (1 for AdamW, 2 for SAM). */
  readonly evaluationsPerStep: number;
  /** Fresh state for `size` parameters. */
  init(size: number): OptimizerState;
  /**
   * One update at learning rate `lr`. The loss and gradient returned are those of
   * the first evaluation, at the incoming parameters (what a training log shows).
   */
  step(params: Float32Array, state: OptimizerState, gradFn: GradientFn, lr: number): Promise<OptimizerStepResult>;
}
