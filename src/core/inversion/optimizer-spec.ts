/**
 * The one place the inversion code turns a serialisable optimizer spec into an
 * Optimizer. When the optimizer registry (`src/core/optim/index.ts`) is available this
 * file reduces to re-exporting its `resolveOptimizerSpec` and `createOptimizer` (as
 * `buildOptimizer`), and SAM becomes available to runs with no other change.
 */
import { z } from "zod";
import { ADAMW_DEFAULTS, createAdamW } from "../optim/adamw.js";
import type { Optimizer } from "../optim/optimizer.js";

const optimizerSpecSchema = z.discriminatedUnion("name", [
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

/** Validates a spec and fills its defaults; throws an Error naming the bad field. */
export function resolveOptimizerSpec(input: unknown): OptimizerSpec {
  const parsed = optimizerSpecSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid optimizer spec: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function buildOptimizer(input: OptimizerSpecInput): Optimizer {
  const { name, ...hyperparameters } = resolveOptimizerSpec(input);
  switch (name) {
    case "adamw":
      return createAdamW(hyperparameters);
  }
}
