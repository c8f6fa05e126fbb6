/** The job resource as the API answers it (GET, list, create, cancel). */
import { z } from "@hono/zod-openapi";
import { EMBEDDING_FORMATS } from "../../services/inversions/embedding-formats.js";
import { JOB_STATUSES } from "../../services/jobs/index.js";
import { WEBHOOK_EVENT_TYPES } from "../../services/webhooks/events.js";

const iso = z.string().openapi({ format: "date-time" });
const nullableNumber = z.number().nullable();

export const inversionSummarySchema = z
  .object({
    id: z.string().openapi({ example: "inv_3f9c2a7d1b6e4c0a8f5d2b1c" }),
    object: z.literal("inversion"),
    objective: z.enum(["textual_inversion", "synthetic"]).nullable(),
    placeholder_token: z
      .string()
      .nullable()
      .openapi({ example: "<my-cat>", description: "The token a generation's prompt must contain (textual_inversion; null otherwise)." }),
    status: z.enum(JOB_STATUSES),
    step: z.number().int().openapi({ description: "Completed optimisation steps." }),
    max_steps: z.number().int(),
    stopping: z.record(z.string(), z.unknown()).openapi({ description: "The stopping rule with its defaults filled in." }),
    outcome: z
      .object({ kind: z.enum(["converged", "max_steps", "failed"]), step: z.number().int() })
      .passthrough()
      .nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    webhook: z.object({ url: z.string(), events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).optional() }).nullable(),
    created_at: iso,
    updated_at: iso,
    started_at: iso.nullable(),
    finished_at: iso.nullable(),
  })
  .openapi("InversionSummary");

export const historiesSchema = z
  .object({
    total_steps: z.number().int(),
    step: z.array(z.number().int()).openapi({ description: "1-based step of each sampled row." }),
    train_loss: z.array(nullableNumber),
    l_det: z.array(nullableNumber),
    criterion: z.array(nullableNumber).openapi({ description: "The stopping rule's statistic (DVAR: var(last N)/var(all))." }),
  })
  .openapi("InversionHistories");

export const inversionSchema = inversionSummarySchema
  .extend({
    dvar_ratio: nullableNumber.openapi({ description: "The latest DVAR ratio (DVAR rule only)." }),
    histories: historiesSchema.nullable().openapi({ description: "Downsampled to at most 256 rows; null before the first slice ends." }),
    timings: z.object({ queued_seconds: nullableNumber, running_seconds: nullableNumber }),
    usage: z.object({ slices: z.number().int(), steps: z.number().int(), seconds: z.number() }),
    embedding_formats: z.array(z.enum(EMBEDDING_FORMATS)).openapi({ description: "Formats GET .../embedding serves." }),
  })
  .openapi("Inversion");

export const inversionListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(inversionSummarySchema),
    next_cursor: z.string().nullable().openapi({ description: "Pass as ?cursor= for the next page; null on the last." }),
  })
  .openapi("InversionList");

export type InversionSummary = z.infer<typeof inversionSummarySchema>;
export type Inversion = z.infer<typeof inversionSchema>;
export type Histories = z.infer<typeof historiesSchema>;
