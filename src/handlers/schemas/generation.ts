/**
 * `POST /v1/generations` and the generation resource: the single source of truth for validation,
 * the OpenAPI document and schemas/*.schema.json. The mapping to the engine's GenerationRequest
 * lives in src/services/generations/generation-service.ts.
 */
import { z } from "@hono/zod-openapi";
import { JOB_ID_PATTERN } from "../../ports/dispatcher/dispatcher.js";
import { GENERATION_ID_PATTERN, GENERATION_STATUSES, MAX_GENERATION_IMAGES, MAX_GENERATION_STEPS, SCHEDULERS } from "../../services/generations/generation-record.js";

export const createGenerationRequestSchema = z
  .strictObject({
    inversion_id: z.string().regex(JOB_ID_PATTERN).openapi({ example: "inv_3f9c2a7d1b6e4c0a8f5d2b1c", description: "A succeeded textual_inversion job of the caller's tenant." }),
    prompt: z
      .string()
      .min(1)
      .max(1000)
      .openapi({ example: "a photo of <my-cat> on a beach", description: "Must contain the job's placeholder token (422 invalid_input otherwise)." }),
    negative_prompt: z.string().max(1000).default("").openapi({ description: "What to steer away from (default empty, as diffusers)." }),
    n: z.number().int().min(1).max(MAX_GENERATION_IMAGES).default(4).openapi({ description: "Images; image i uses seed + i." }),
    steps: z.number().int().min(1).max(MAX_GENERATION_STEPS).default(25).openapi({ description: "Sampler steps." }),
    guidance: z.number().min(1).max(30).default(7.5).openapi({ description: "Classifier-free guidance scale (1 turns guidance off)." }),
    scheduler: z
      .enum(SCHEDULERS)
      .optional()
      .openapi({ description: "Sampler. Default: the one the model's scheduler config names (DDIM stands in for DDPM)." }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER - (MAX_GENERATION_IMAGES - 1))
      .default(0)
      .openapi({ description: "Image i is drawn from seed + i: the same request gives identical PNG bytes." }),
  })
  .openapi("CreateGenerationRequest");

export type CreateGenerationRequest = z.output<typeof createGenerationRequestSchema>;

const iso = z.string().openapi({ format: "date-time" });

export const generationSchema = z
  .object({
    id: z.string().openapi({ example: "gen_8d0b5e1f2a3c4d5e6f708192" }),
    object: z.literal("generation"),
    status: z.enum(GENERATION_STATUSES).openapi({ description: "The embedded server answers POST with a finished generation (succeeded or failed)." }),
    inversion_id: z.string(),
    model: z.string(),
    prompt: z.string(),
    negative_prompt: z.string(),
    n: z.number().int(),
    steps: z.number().int(),
    guidance: z.number(),
    scheduler: z.enum(SCHEDULERS).nullable().openapi({ description: "The sampler that ran (the default resolved); null only while queued without one." }),
    seed: z.number().int(),
    images: z.array(
      z.object({
        index: z.number().int(),
        seed: z.number().int(),
        width: z.number().int(),
        height: z.number().int(),
        url: z.string().openapi({ example: "/v1/generations/gen_8d0b5e1f2a3c4d5e6f708192/images/0", description: "GET it with the API key (image/png)." }),
      }),
    ),
    warnings: z.array(z.string()),
    usage: z.object({ steps: z.number().int().openapi({ description: "n x steps" }), seconds: z.number() }).nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: iso,
    finished_at: iso.nullable(),
  })
  .openapi("Generation");

export type Generation = z.infer<typeof generationSchema>;

export const generationIdParams = z.object({
  id: z.string().regex(GENERATION_ID_PATTERN).openapi({ param: { name: "id", in: "path" }, example: "gen_8d0b5e1f2a3c4d5e6f708192" }),
});
