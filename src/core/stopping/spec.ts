/**
 * Serialisable specs of the stopping rules (validated with zod), and named presets.
 * A spec is what a run's config stores; `createCriterion(spec)` builds the rule.
 */
import { z } from "zod";

const every = z.number().int().min(1).default(1);
const window = z.number().int().min(2);

export const dvarSpecSchema = z.strictObject({
  name: z.literal("dvar"),
  /** N: the recent window whose variance is compared with the whole run's. */
  window: window.default(310),
  /** alpha: stop when var(last N) / var(all) < alpha. */
  threshold: z.number().gt(0).lt(1).default(0.15),
  every,
});

export const fixedStepsSpecSchema = z.strictObject({
  name: z.literal("fixed"),
  steps: z.number().int().min(1),
});

export const emaChangeSpecSchema = z.strictObject({
  name: z.literal("ema"),
  window: window.default(310),
  alpha: z.number().gt(0).max(1).default(0.1),
  threshold: z.number().gt(0).default(0.01),
  every,
});

export const hallSpecSchema = z.strictObject({
  name: z.literal("hall"),
  window: window.default(310),
  threshold: z.number().gt(0).default(0.02),
  every,
});

export const trendSpecSchema = z.strictObject({
  name: z.literal("trend"),
  window: window.default(310),
  threshold: z.number().gt(0).default(5e-6),
  every,
});

export const patienceSpecSchema = z.strictObject({
  name: z.literal("patience"),
  /** An evaluation improves only when it beats the best by more than eps. */
  eps: z.number().min(0).default(0.05),
  patience: z.number().int().min(1).default(5),
  /** The score is evaluated every `every` steps (CLIP-s: 50). */
  every: z.number().int().min(1).default(50),
  mode: z.enum(["max", "min"]).default("max"),
});

export const criterionSpecSchema = z.discriminatedUnion("name", [
  dvarSpecSchema,
  fixedStepsSpecSchema,
  emaChangeSpecSchema,
  hallSpecSchema,
  trendSpecSchema,
  patienceSpecSchema,
]);

export type DvarSpec = z.output<typeof dvarSpecSchema>;
export type FixedStepsSpec = z.output<typeof fixedStepsSpecSchema>;
export type EmaChangeSpec = z.output<typeof emaChangeSpecSchema>;
export type HallSpec = z.output<typeof hallSpecSchema>;
export type TrendSpec = z.output<typeof trendSpecSchema>;
export type PatienceSpec = z.output<typeof patienceSpecSchema>;
/** A fully resolved spec (defaults filled in). */
export type CriterionSpec = z.output<typeof criterionSpecSchema>;
/** A spec as written by a user: optional fields may be left out. */
export type CriterionSpecInput = z.input<typeof criterionSpecSchema>;

/**
 * Named presets. `dvar` is the authors' later recommendation for Textual Inversion
 * (repository README: N=310, alpha=0.15); `dvar-paper` the paper's first values
 * (section 3.3: N=282, alpha=0.39); `dvar-tiny-sd` the values calibrated for the bundled
 * model on its tuning concepts (`dvar evaluate --tuning`, docs/EVALUATION.md: its L_det
 * flattens within ~250 steps, so the paper's values fire late or never there; a test keeps
 * this entry equal to the study's choice in docs/study/study.json); `fixed` the paper's
 * 6100-step baseline. The
 * Appendix B rules have no published thresholds: theirs (EMA 1%, Hall 0.02, Trend
 * 5e-6 per step, all over 310 values) were picked on the synthetic objective only and,
 * as the paper found, need not transfer to other problems.
 */
export const CRITERION_PRESETS = {
  dvar: { name: "dvar", window: 310, threshold: 0.15, every: 1 },
  "dvar-paper": { name: "dvar", window: 282, threshold: 0.39, every: 1 },
  "dvar-tiny-sd": { name: "dvar", window: 310, threshold: 0.8, every: 1 },
  fixed: { name: "fixed", steps: 6100 },
  ema: emaChangeSpecSchema.parse({ name: "ema" }),
  hall: hallSpecSchema.parse({ name: "hall" }),
  trend: trendSpecSchema.parse({ name: "trend" }),
  patience: patienceSpecSchema.parse({ name: "patience" }),
} as const satisfies Record<string, CriterionSpec>;

export type CriterionPresetName = keyof typeof CRITERION_PRESETS;

export class InvalidCriterionSpecError extends Error {
  override name = "InvalidCriterionSpecError";
}

/** Validates a spec and fills in defaults; throws InvalidCriterionSpecError naming the bad field. */
export function parseCriterionSpec(input: unknown): CriterionSpec {
  const result = criterionSpecSchema.safeParse(input);
  if (!result.success) throw new InvalidCriterionSpecError(`invalid stopping criterion: ${z.prettifyError(result.error)}`);
  return result.data;
}
