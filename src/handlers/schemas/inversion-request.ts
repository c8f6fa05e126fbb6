/**
 * The body of `POST /v1/inversions`: the single source of truth for validation, the OpenAPI
 * document and schemas/*.schema.json. Public field names are snake_case; the mapping to the
 * engine's InversionConfig lives in src/services/inversions/config-from-request.ts.
 */
import { z } from "@hono/zod-openapi";
import { criterionSpecSchema } from "../../core/stopping/spec.js";
import { DEFAULT_MAX_IMAGES, DEFAULT_MIN_IMAGES } from "../../engine/images/options.js";
import { WEBHOOK_EVENT_TYPES } from "../../services/webhooks/events.js";

export const UPLOAD_ID_PATTERN = /^upl_[A-Za-z0-9]{8,40}$/;
/** Training images per job (referenced or sent as multipart files): the engine's limits. */
export const MIN_INPUT_IMAGES = DEFAULT_MIN_IMAGES;
export const MAX_INPUT_IMAGES = DEFAULT_MAX_IMAGES;

const webhook = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).max(2048).openapi({ example: "https://example.com/hooks/dvar" }),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional().openapi({ description: "Events to send (all four when absent)." }),
  })
  .openapi("WebhookSubscription");

const common = {
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).openapi({ description: "Every random draw derives from it." }),
  max_steps: z.number().int().min(1).max(20000).default(6100).openapi({ description: "Hard cap on updates (the paper's baseline: 6100)." }),
  learning_rate: z.number().gt(0).max(1).default(5e-3),
  // `patience` stops on an external score (CLIP-s), which neither objective here computes: a
  // job with it could never run a step, so it is refused up front.
  stopping: criterionSpecSchema
    .refine((spec) => spec.name !== "patience", { message: "the patience rule needs a score (CLIP-s) that these objectives do not compute; use dvar, fixed, ema, hall or trend" })
    .default({ name: "dvar", window: 310, threshold: 0.15, every: 1 })
    .openapi({ description: "Stopping rule and its parameters (default DVAR, N=310, alpha=0.15). `patience` is refused (it needs a score these objectives do not compute)." }),
  webhook: webhook.optional(),
};

export const textualInversionRequestSchema = z
  .strictObject({
    objective: z.literal("textual_inversion"),
    model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}$/).openapi({ example: "tiny-sd", description: "Model id." }),
    placeholder_token: z.string().regex(/^\S{1,40}$/).openapi({ example: "<my-cat>" }),
    initializer_token: z.string().regex(/^\S{1,40}$/).openapi({ example: "cat" }),
    num_vectors: z.number().int().min(1).max(16).default(1),
    learnable_property: z.enum(["object", "style"]).default("object"),
    scale_lr: z
      .boolean()
      .default(true)
      .openapi({ description: "Multiply learning_rate by the training batch size (4), as diffusers' --scale_lr and `dvar invert` do." }),
    // The engine's count limits, so a job it would refuse is refused here.
    images: z
      .array(z.string().regex(UPLOAD_ID_PATTERN))
      .min(DEFAULT_MIN_IMAGES)
      .max(DEFAULT_MAX_IMAGES)
      .refine((ids) => new Set(ids).size === ids.length, { message: "an upload id is given twice" })
      .openapi({ description: `Upload ids from POST /v1/uploads, ${DEFAULT_MIN_IMAGES} to ${DEFAULT_MAX_IMAGES} distinct images (3-5 recommended).` }),
    ...common,
  })
  .openapi("TextualInversionRequest");

/** A cheap CPU objective with the statistics of Textual Inversion's loss (for trying the API). */
export const syntheticRequestSchema = z
  .strictObject({
    objective: z.literal("synthetic"),
    dim: z.number().int().min(1).max(4096).default(32),
    batch_size: z.number().int().min(1).max(64).default(4),
    ...common,
  })
  .openapi("SyntheticInversionRequest");

export const createInversionRequestSchema = z
  .discriminatedUnion("objective", [textualInversionRequestSchema, syntheticRequestSchema])
  .openapi("CreateInversionRequest");

export type CreateInversionRequest = z.output<typeof createInversionRequestSchema>;

/**
 * The `config` field of a multipart POST /v1/inversions: a textual_inversion request without
 * `images` (the form's image files are the images).
 */
export const textualInversionUploadConfigSchema = textualInversionRequestSchema
  .omit({ images: true })
  .openapi("TextualInversionUploadConfig", { description: "POST /v1/inversions as multipart/form-data: the `config` part (JSON)." });

export type TextualInversionUploadConfig = z.output<typeof textualInversionUploadConfigSchema>;
