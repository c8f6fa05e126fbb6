/**
 * The one place the runner turns a serialisable optimizer spec into an Optimizer.
 * (When the optimizer registry lands, `buildOptimizer` becomes `createOptimizer(spec)`.)
 */
import { z } from "zod";
import { ADAMW_DEFAULTS, createAdamW } from "../optim/adamw.js";
import type { Optimizer } from "../optim/optimizer.js";

export const optimizerSpecSchema = z.discriminatedUnion("name", [
  z.strictObject({
    name: z.literal("adamw"),
    beta1: z.number().min(0).lt(1).default(ADAMW_DEFAULTS.beta1),
    beta2: z.number().min(0).lt(1).default(ADAMW_DEFAULTS.beta2),
    eps: z.number().gt(0).default(ADAMW_DEFAULTS.eps),
    weightDecay: z.number().min(0).default(ADAMW_DEFAULTS.weightDecay),
  }),
]);

export type OptimizerSpec = z.output<typeof optimizerSpecSchema>;
export type OptimizerSpecInput = z.input<typeof optimizerSpecSchema>;

export function buildOptimizer(spec: OptimizerSpec): Optimizer {
  const { name, ...hyperparameters } = spec;
  switch (name) {
    case "adamw":
      return createAdamW(hyperparameters);
  }
}
