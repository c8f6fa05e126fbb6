/**
 * The configuration of one inversion run, validated once on entry (zod) and stored in
 * every checkpoint together with its hash, so a checkpoint cannot be resumed under a
 * different configuration by accident.
 */
import { z } from "zod";
import { sha256Hex } from "../io/sha256.js";
import { stringifyExact } from "../io/exact-json.js";
import { criterionSpecSchema } from "../stopping/spec.js";
import { resolveOptimizerSpec, type OptimizerSpec, type OptimizerSpecInput } from "../optim/index.js";

export const inversionConfigSchema = z.strictObject({
  /** Job seed: every random draw of the run is addressed by (seed, stream, step, index). */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Hard cap on updates (the paper's baseline: 6100). */
  maxSteps: z.number().int().min(1).default(6100),
  /** Constant learning rate, already scaled (scale_lr is the caller's concern). */
  learningRate: z.number().gt(0).max(1e3).default(5e-3),
  /** Validated by the optimizer registry's own resolver, so new optimizers need no change here. */
  optimizer: z
    .custom<OptimizerSpecInput>()
    .default({ name: "adamw" })
    .transform((input, ctx): OptimizerSpec => {
      try {
        return resolveOptimizerSpec(input);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** The stopping rule (default: DVAR with N=310, alpha=0.15). */
  stop: criterionSpecSchema.prefault({ name: "dvar" }),
  /** L_det is computed after every `ldetEvery`-th update (and whenever the rule needs it). */
  ldetEvery: z.number().int().min(1).default(1),
  /** Describes the objective (model and data hashes, synthetic settings) so the config hash covers it. */
  objective: z.record(z.string(), z.json()).default({}),
});

export type InversionConfig = z.output<typeof inversionConfigSchema>;
export type InversionConfigInput = z.input<typeof inversionConfigSchema>;

export class InvalidConfigError extends Error {
  override name = "InvalidConfigError";
}

/** Validates a config and fills in defaults; throws InvalidConfigError naming the bad fields. */
export function parseInversionConfig(input: unknown): InversionConfig {
  const result = inversionConfigSchema.safeParse(input);
  if (!result.success) throw new InvalidConfigError(`invalid inversion config: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** SHA-256 (hex) of the config's canonical JSON (sorted keys). */
export function configHash(config: InversionConfig): string {
  return sha256Hex(stringifyExact(config));
}
