/** Generation records as API resources. */
import type { Generation } from "../../handlers/schemas/generation.js";
import type { GenerationRecord } from "./generation-record.js";

export function generationImagePath(generationId: string, index: number): string {
  return `/v1/generations/${generationId}/images/${index}`;
}

export function describeGeneration(record: GenerationRecord): Generation {
  return {
    id: record.id,
    object: "generation",
    status: record.status,
    inversion_id: record.inversionId,
    model: record.model,
    prompt: record.prompt,
    negative_prompt: record.negativePrompt,
    n: record.n,
    steps: record.steps,
    guidance: record.guidance,
    // Before it ran: what was asked for (null = the model's default, resolved when it runs).
    scheduler: record.sampler ?? record.scheduler,
    seed: record.seed,
    images: (record.images ?? []).map((image, index) => ({ index, seed: image.seed, width: image.width, height: image.height, url: generationImagePath(record.id, index) })),
    warnings: record.warnings,
    // Named fields only: stored objects keep fields a newer release added (docs/STORE.md, "Compatibility").
    usage: record.usage && { steps: record.usage.steps, seconds: record.usage.seconds },
    error: record.error && { code: record.error.code, message: record.error.message },
    created_at: record.createdAt,
    finished_at: record.finishedAt,
  };
}
