import { z } from "zod";

/** A scheduler_config.json this project cannot use, with the reason. */
export class SchedulerConfigError extends Error {
  override name = "SchedulerConfigError";
}

export const BETA_SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"] as const;
export const PREDICTION_TYPES = ["epsilon", "v_prediction"] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];
export type PredictionType = (typeof PREDICTION_TYPES)[number];

const unsupported = (field: string, supported: readonly string[]) => (issue: { input?: unknown }) =>
  `unsupported ${field} ${JSON.stringify(issue.input)} (supported: ${supported.join(", ")})`;

const betaValue = z.number().min(0).lt(1);

/**
 * diffusers' scheduler_config.json, defaults as DDPMScheduler/DDIMScheduler. Fields used
 * later by samplers (steps_offset, set_alpha_to_one, clip_sample, timestep_spacing) are
 * typed; unknown fields (_class_name, skip_prk_steps, ...) are kept and ignored.
 */
const schedulerConfigSchema = z
  .looseObject({
    num_train_timesteps: z.int().min(2).default(1000),
    beta_start: betaValue.default(0.0001),
    beta_end: betaValue.default(0.02),
    beta_schedule: z.enum(BETA_SCHEDULES, { error: unsupported("beta_schedule", BETA_SCHEDULES) }).default("linear"),
    trained_betas: z.array(betaValue).nullish().transform((betas) => betas ?? null),
    prediction_type: z.enum(PREDICTION_TYPES, { error: unsupported("prediction_type", PREDICTION_TYPES) }).default("epsilon"),
    steps_offset: z.int().min(0).default(0),
    set_alpha_to_one: z.boolean().default(true),
    clip_sample: z.boolean().default(true),
    timestep_spacing: z.enum(["leading", "trailing", "linspace"]).default("leading"),
    rescale_betas_zero_snr: z.literal(false, { error: "rescale_betas_zero_snr = true is not supported" }).default(false),
  })
  .refine((c) => c.trained_betas === null || c.trained_betas.length === c.num_train_timesteps, {
    message: "trained_betas must hold num_train_timesteps values",
    path: ["trained_betas"],
  });

export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

/** Validates a parsed scheduler_config.json and fills diffusers' defaults. */
export function parseSchedulerConfig(raw: unknown): SchedulerConfig {
  const parsed = schedulerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new SchedulerConfigError(`invalid scheduler config: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
