import { z } from "zod";
import { ADAMW_DEFAULTS, type AdamWConfig, createAdamW, validateAdamWConfig } from "./adamw.js";
import type { Optimizer } from "./optimizer.js";
import { createSam, SAM_DEFAULTS, type SamConfig, validateSamConfig } from "./sam.js";
import { OptimizerConfigError } from "./validate.js";

export type { GradientFn, LossAndGradient, Optimizer, OptimizerState, OptimizerStepResult } from "./optimizer.js";
export { ADAMW_DEFAULTS, type AdamWConfig } from "./adamw.js";
export { SAM_DEFAULTS, type SamConfig } from "./sam.js";
export { OptimizerConfigError, OptimizerInputError } from "./validate.js";

/** Everything needed to rebuild an optimizer; stored in checkpoints as JSON. */
export type OptimizerSpec = ({ name: "adamw" } & AdamWConfig) | ({ name: "sam" } & SamConfig);

/** An OptimizerSpec whose hyper-parameters may be left out (defaults fill them). */
export type OptimizerSpecInput = ({ name: "adamw" } & Partial<AdamWConfig>) | ({ name: "sam" } & Partial<SamConfig>);

const optimizerSpecSchema = z.discriminatedUnion("name", [
  z.strictObject({
    name: z.literal("adamw"),
    beta1: z.number().default(ADAMW_DEFAULTS.beta1),
    beta2: z.number().default(ADAMW_DEFAULTS.beta2),
    eps: z.number().default(ADAMW_DEFAULTS.eps),
    weightDecay: z.number().default(ADAMW_DEFAULTS.weightDecay),
  }),
  z.strictObject({
    name: z.literal("sam"),
    rho: z.number().default(SAM_DEFAULTS.rho),
    momentum: z.number().default(SAM_DEFAULTS.momentum),
    weightDecay: z.number().default(SAM_DEFAULTS.weightDecay),
  }),
]);

/**
 * Checks an optimizer spec (e.g. parsed from a request or a checkpoint), fills the
 * defaults and validates the ranges. Throws OptimizerConfigError naming what is wrong.
 */
export function resolveOptimizerSpec(input: unknown): OptimizerSpec {
  const parsed = optimizerSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new OptimizerConfigError(`invalid optimizer spec: ${z.prettifyError(parsed.error)}`);
  }
  const spec: OptimizerSpec = parsed.data;
  if (spec.name === "adamw") validateAdamWConfig(spec);
  else validateSamConfig(spec);
  return spec;
}

/** The one way to build an optimizer from a spec (defaults filled, ranges checked). */
export function createOptimizer(input: OptimizerSpecInput): Optimizer {
  const spec = resolveOptimizerSpec(input);
  switch (spec.name) {
    case "adamw":
      return createAdamW({ beta1: spec.beta1, beta2: spec.beta2, eps: spec.eps, weightDecay: spec.weightDecay });
    case "sam":
      return createSam({ rho: spec.rho, momentum: spec.momentum, weightDecay: spec.weightDecay });
  }
}
