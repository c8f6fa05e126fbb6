import { z } from "zod";
import { createNoiseSchedule } from "../schedule/index.js";
import { createDdimSampler } from "./ddim.js";
import { SamplerError } from "./errors.js";
import { createEulerAncestralSampler } from "./euler-ancestral.js";
import { createEulerSampler } from "./euler.js";
import { createPndmSampler } from "./pndm.js";
import { SAMPLER_KINDS, type Sampler, type SamplerKind } from "./sampler.js";
import { TIMESTEP_SPACINGS, type TimestepSpacing } from "./timesteps.js";

/** The diffusers scheduler class each supported sampler restates. */
const NATIVE_CLASSES: Record<string, SamplerKind> = {
  DDIMScheduler: "ddim",
  EulerDiscreteScheduler: "euler",
  EulerAncestralDiscreteScheduler: "euler-ancestral",
  PNDMScheduler: "pndm", // with skip_prk_steps (PLMS), as every Stable Diffusion config sets it
};

/**
 * Classes we do not implement that diffusers itself declares interchangeable with
 * DDIMScheduler on the same scheduler config (DDIMScheduler._compatibles, the
 * KarrasDiffusionSchedulers enum): they sample the same trained noise-prediction model
 * with a different integrator, so DDIM with the config's own betas, prediction type,
 * spacing and offset is a faithful stand-in (different images, same model). So is a
 * PNDMScheduler config without skip_prk_steps (its Runge-Kutta warm-up is not
 * implemented). Any other class (LCM, TCD, flow matching, ...) needs its own sampler or
 * model and is refused.
 */
export const DDIM_FALLBACK_CLASSES = [
  "DDPMScheduler",
  "LMSDiscreteScheduler",
  "HeunDiscreteScheduler",
  "KDPM2DiscreteScheduler",
  "KDPM2AncestralDiscreteScheduler",
  "DPMSolverMultistepScheduler",
  "DPMSolverSinglestepScheduler",
  "DPMSolverSDEScheduler",
  "DEISMultistepScheduler",
  "UniPCMultistepScheduler",
] as const;

/** Which sampler a scheduler_config.json asks for, and whether that is a fallback. */
export interface SamplerChoice {
  kind: SamplerKind;
  /** The config's `_class_name`, or null when it names none (then DDIM, the config's defaults' class). */
  configClass: string | null;
  /** True when configClass is not implemented and DDIM stands in for it (see DDIM_FALLBACK_CLASSES). */
  fallback: boolean;
}

export function samplerKindForConfig(rawConfig: unknown): SamplerChoice {
  const className = (rawConfig as { _class_name?: unknown } | null)?._class_name;
  if (className === undefined) return { kind: "ddim", configClass: null, fallback: false };
  if (typeof className !== "string") throw new SamplerError(`scheduler config _class_name must be a string, got ${JSON.stringify(className)}`);
  const native = NATIVE_CLASSES[className];
  const prkWarmUp = native === "pndm" && (rawConfig as { skip_prk_steps?: unknown }).skip_prk_steps !== true;
  if (prkWarmUp) return { kind: "ddim", configClass: className, fallback: true };
  if (native !== undefined) return { kind: native, configClass: className, fallback: false };
  if ((DDIM_FALLBACK_CLASSES as readonly string[]).includes(className)) return { kind: "ddim", configClass: className, fallback: true };
  throw new SamplerError(
    `scheduler ${className} is not supported: supported ${Object.keys(NATIVE_CLASSES).join(", ")}; ` +
      `DDIM stands in for ${DDIM_FALLBACK_CLASSES.join(", ")}`,
  );
}

const refuse = (message: string) => ({ error: message });

/** Sampler fields of scheduler_config.json beyond the noise schedule (validated on entry). */
const ddimFields = z.looseObject({
  timestep_spacing: z.enum(TIMESTEP_SPACINGS).optional(),
  clip_sample_range: z.number().positive().default(1),
  thresholding: z.literal(false, refuse("thresholding = true (dynamic thresholding) is not supported")).default(false),
});
const noFlag = (field: string) => z.union([z.literal(false), z.null()], refuse(`${field} = true is not supported`)).default(false);
const eulerFields = z.looseObject({
  timestep_spacing: z.enum(TIMESTEP_SPACINGS).optional(),
  interpolation_type: z.literal("linear", refuse("only interpolation_type \"linear\" is supported")).default("linear"),
  use_karras_sigmas: noFlag("use_karras_sigmas"),
  use_exponential_sigmas: noFlag("use_exponential_sigmas"),
  use_beta_sigmas: noFlag("use_beta_sigmas"),
  timestep_type: z.literal("discrete", refuse("only timestep_type \"discrete\" is supported")).default("discrete"),
  final_sigmas_type: z.literal("zero", refuse("only final_sigmas_type \"zero\" is supported")).default("zero"),
});

const pndmFields = z.looseObject({
  timestep_spacing: z.enum(TIMESTEP_SPACINGS).optional(),
  set_alpha_to_one: z.boolean().default(false), // PNDMScheduler's default, unlike DDIM's
});

function parseFields<T extends z.ZodType>(schema: T, raw: unknown, kind: SamplerKind): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new SamplerError(`scheduler config cannot drive the ${kind} sampler: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export interface SamplerOptions {
  /**
   * Which sampler; default: the one the config's _class_name asks for (samplerKindForConfig).
   * "pndm" always means PLMS (skip_prk_steps = true), whatever the config says.
   */
  kind?: SamplerKind;
  /** Number of inference steps, 1..num_train_timesteps (PNDM evaluates the model steps + 1 times). */
  steps: number;
  /** DDIM's eta in [0, 1] (default 0); refused for the other samplers. */
  eta?: number;
}

/**
 * A sampler for a raw scheduler_config.json (as parsed from JSON, before defaults).
 * The raw object is needed because a missing timestep_spacing means what the sampler's
 * own diffusers class defaults to: "leading" for DDIM and PNDM, "linspace" for both Euler
 * classes (as diffusers' from_config does; SD 1.5's config names none); likewise a missing
 * set_alpha_to_one is true for DDIM, false for PNDM.
 */
export function createSampler(rawConfig: unknown, options: SamplerOptions): Sampler {
  const kind = options.kind ?? samplerKindForConfig(rawConfig).kind;
  if (!SAMPLER_KINDS.includes(kind)) throw new SamplerError(`unknown sampler ${JSON.stringify(kind)} (supported: ${SAMPLER_KINDS.join(", ")})`);
  if (options.eta !== undefined && options.eta !== 0 && kind !== "ddim") throw new SamplerError(`eta applies to DDIM only, not ${kind}`);
  const schedule = createNoiseSchedule(rawConfig);
  const stepsOffset = schedule.config.steps_offset;
  if (kind === "ddim") {
    const fields = parseFields(ddimFields, rawConfig, kind);
    return createDdimSampler({
      schedule,
      steps: options.steps,
      spacing: fields.timestep_spacing ?? "leading",
      stepsOffset,
      eta: options.eta ?? 0,
      clipSample: schedule.config.clip_sample,
      clipSampleRange: fields.clip_sample_range,
    });
  }
  if (kind === "pndm") {
    const fields = parseFields(pndmFields, rawConfig, kind);
    return createPndmSampler({
      schedule,
      steps: options.steps,
      spacing: fields.timestep_spacing ?? "leading",
      stepsOffset,
      finalAlphaCumprod: fields.set_alpha_to_one ? 1 : schedule.alphasCumprod[0]!,
    });
  }
  const fields = parseFields(eulerFields, rawConfig, kind);
  const spacing: TimestepSpacing = fields.timestep_spacing ?? "linspace";
  const settings = { schedule, steps: options.steps, spacing, stepsOffset };
  return kind === "euler" ? createEulerSampler(settings) : createEulerAncestralSampler(settings);
}
