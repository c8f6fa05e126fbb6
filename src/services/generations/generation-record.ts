/**
 * The generation record: one object per generation, under its tenant
 * (`tenants/<t>/generations/<id>/record.json`, images beside it as `image-<i>.png`), so a
 * generation can only be found through its own tenant. Created queued (If-None-Match) and
 * advanced once to succeeded or failed (If-Match), like a job record.
 */
import { z } from "zod";
import { storedObject } from "../../core/io/stored-object.js";
import type { SamplerKind } from "../../core/sampling/index.js";
import { JOB_ID_PATTERN } from "../../ports/dispatcher/dispatcher.js";

export const GENERATION_STATUSES = ["queued", "succeeded", "failed"] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];

export const GENERATION_ID_PATTERN = /^gen_[A-Za-z0-9]{8,40}$/;
export const MAX_GENERATION_IMAGES = 8;
export const MAX_GENERATION_STEPS = 150;

/** The API's scheduler names and the engine's sampler for each. */
export const SCHEDULER_SAMPLERS = { ddim: "ddim", euler: "euler", euler_ancestral: "euler-ancestral", pndm: "pndm" } as const satisfies Record<string, SamplerKind>;
export type Scheduler = keyof typeof SCHEDULER_SAMPLERS;
export const SCHEDULERS = Object.keys(SCHEDULER_SAMPLERS) as [Scheduler, ...Scheduler[]];

export function schedulerOf(sampler: SamplerKind): Scheduler {
  return (Object.keys(SCHEDULER_SAMPLERS) as Scheduler[]).find((name) => SCHEDULER_SAMPLERS[name] === sampler)!;
}

const id = z.string().regex(JOB_ID_PATTERN);
const isoTime = z.iso.datetime();

/** Fields a newer version adds are kept through the advance (storedObject; docs/STORE.md, "Compatibility"). */
export const generationRecordSchema = storedObject({
  format: z.literal("dvar-generation"),
  formatVersion: z.literal(1),
  id: z.string().regex(GENERATION_ID_PATTERN),
  tenantId: id,
  /** The API key that asked (usage is billed to it). */
  keyId: id,
  status: z.enum(GENERATION_STATUSES),
  /** The textual-inversion job whose embedding the prompt uses. */
  inversionId: id,
  /** Model id (resolved through the model catalog when the generation runs). */
  model: z.string().min(1),
  placeholderToken: z.string().min(1),
  /** Store key of the job's diffusers embedding. */
  embeddingKey: z.string().min(1),
  prompt: z.string(),
  negativePrompt: z.string(),
  n: z.number().int().min(1).max(MAX_GENERATION_IMAGES),
  steps: z.number().int().min(1).max(MAX_GENERATION_STEPS),
  guidance: z.number().min(1),
  /** As requested; null: the model's default. */
  scheduler: z.enum(SCHEDULERS).nullable(),
  seed: z.number().int().min(0),
  /** Once succeeded: the images in order (image i drawn from seed + i), and what ran. */
  images: z.array(storedObject({ key: z.string(), seed: z.number().int(), width: z.number().int(), height: z.number().int() })).nullable(),
  sampler: z.enum(SCHEDULERS).nullable(),
  warnings: z.array(z.string()),
  /** Billed steps (n x steps) and device seconds, once billed. */
  usage: storedObject({ steps: z.number().int(), seconds: z.number() }).nullable(),
  error: storedObject({ code: z.string(), message: z.string() }).nullable(),
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
});

export type GenerationRecord = z.infer<typeof generationRecordSchema>;

export function generationPrefix(tenantId: string, generationId: string): string {
  return `tenants/${tenantId}/generations/${generationId}/`;
}

export function generationRecordKey(tenantId: string, generationId: string): string {
  return `${generationPrefix(tenantId, generationId)}record.json`;
}

export function generationImageKey(tenantId: string, generationId: string, index: number): string {
  return `${generationPrefix(tenantId, generationId)}image-${index}.png`;
}
