/**
 * Generations: images from a prompt with a succeeded textual-inversion job's learned embedding.
 *
 * Two steps, so that where the images are drawn is the caller's choice:
 * - `submit` answers a replayed Idempotency-Key with the stored generation first, then checks
 *   everything a client can get wrong (budget, the job, its status, the prompt), claims the key
 *   and writes a queued record, create-only;
 * - `run` draws the images (the ImageGenerator edge), stores the PNGs, bills one idempotent usage
 *   record (kind "generation", steps = n x steps) and advances the record to succeeded, If-Match.
 * The embedded server calls both within the request (a 32x32 model draws in about a second). A
 * serverless deployment can instead hand the queued id to a GPU function that calls `run`, and
 * answer 202 with the queued resource; `run` is safe to repeat (deterministic image keys and
 * bytes, usage written once per generation, the record advanced once).
 */
import { decodeEmbedding } from "../../engine/embeddings/index.js";
import { pngBytes } from "../../engine/generate/png.js";
import { systemClock, type Clock } from "../../ports/clock.js";
import { PreconditionFailedError, type Store } from "../../ports/store/index.js";
import type { Principal } from "../auth/index.js";
import type { CreateGenerationRequest } from "../../handlers/schemas/generation.js";
import { claimIdempotencyKey, findIdempotencyClaim, requestHash } from "../idempotency/index.js";
import { randomId } from "../inversions/inversion-service.js";
import { EMBEDDING_OUTPUTS } from "../inversions/embedding-formats.js";
import { JobStore } from "../jobs/index.js";
import { defaultModelCatalog, UnknownModelError, type ModelCatalog } from "../models/model-catalog.js";
import { parseTextualInversionObjective, TEXTUAL_INVERSION_KIND } from "../slices/textual-inversion.js";
import { assertWithinBudget, UsageLedger } from "../usage/index.js";
import { GenerationConflictError, GenerationInputError, InversionNotFoundError } from "./errors.js";
import { generationImageKey, SCHEDULER_SAMPLERS, schedulerOf, type GenerationRecord } from "./generation-record.js";
import { GenerationStore, type VersionedGeneration } from "./generation-store.js";
import { perCallImageGenerator, type ImageGenerator } from "./image-generator.js";

export interface GenerationServiceDeps {
  readonly store: Store;
  /** Default: the bundled model only. */
  readonly models?: ModelCatalog;
  /** Default: one that opens the model's sessions for every generation. */
  readonly generator?: ImageGenerator;
  readonly clock?: Clock;
  readonly newId?: (prefix: "gen") => string;
  /** What usage records name as the device (default "cpu"). */
  readonly device?: string;
}

export class GenerationService {
  private readonly records: GenerationStore;
  private readonly jobs: JobStore;
  private readonly models: ModelCatalog;
  private readonly generator: ImageGenerator;
  private readonly clock: Clock;

  constructor(private readonly deps: GenerationServiceDeps) {
    this.records = new GenerationStore(deps.store);
    this.jobs = new JobStore(deps.store);
    this.models = deps.models ?? defaultModelCatalog();
    this.generator = deps.generator ?? perCallImageGenerator();
    this.clock = deps.clock ?? systemClock;
  }

  /**
   * Checks the request and writes the queued record (or, for a repeated Idempotency-Key, finds it).
   * A replay is looked up before any other check, so it answers the original generation even when
   * the key's budget has run out since (or the job or its model has gone).
   */
  async submit(principal: Principal, request: CreateGenerationRequest, idempotencyKey?: string): Promise<{ generation: VersionedGeneration; created: boolean }> {
    // The operation is part of the hash: a key used for a job and then a generation is a reuse.
    const idempotency = idempotencyKey === undefined ? undefined : { key: idempotencyKey, hash: requestHash({ operation: "createGeneration", request }) };
    const replayed = await this.replay(principal, idempotency);
    if (replayed) return { generation: replayed, created: false };
    await assertWithinBudget(this.deps.store, principal);
    const job = await this.jobs.read(request.inversion_id);
    if (!job || job.record.tenantId !== principal.tenantId) throw new InversionNotFoundError(`No inversion "${request.inversion_id}".`);
    const { record: inversion } = job;
    if (inversion.status !== "succeeded") throw new GenerationConflictError(`the inversion has not succeeded (it is ${inversion.status}); generate once it has`);
    const embeddingKey = inversion.outputs?.[EMBEDDING_OUTPUTS.diffusers];
    if ((inversion.config.objective as { kind?: unknown }).kind !== TEXTUAL_INVERSION_KIND || embeddingKey === undefined) {
      throw new GenerationConflictError("the inversion learned no embedding (only textual_inversion jobs can be drawn from)");
    }
    const spec = parseTextualInversionObjective(inversion.config.objective);
    if (!request.prompt.includes(spec.placeholderToken)) {
      throw new GenerationInputError(`prompt must contain the inversion's placeholder token ${spec.placeholderToken}, e.g. "a photo of ${spec.placeholderToken}"`);
    }
    try {
      this.models.resolve(spec.model);
    } catch (error) {
      if (error instanceof UnknownModelError) throw new GenerationConflictError(`the inversion's model is not served here any more: ${error.message}`);
      throw error;
    }
    let record: GenerationRecord = {
      format: "dvar-generation",
      formatVersion: 1,
      id: (this.deps.newId ?? randomId)("gen"),
      tenantId: principal.tenantId,
      keyId: principal.keyId,
      status: "queued",
      inversionId: inversion.id,
      model: spec.model,
      placeholderToken: spec.placeholderToken,
      embeddingKey,
      prompt: request.prompt,
      negativePrompt: request.negative_prompt,
      n: request.n,
      steps: request.steps,
      guidance: request.guidance,
      scheduler: request.scheduler ?? null,
      seed: request.seed,
      images: null,
      sampler: null,
      warnings: [],
      usage: null,
      error: null,
      createdAt: new Date(this.clock.now()).toISOString(),
      finishedAt: null,
    };
    if (idempotency !== undefined) {
      const claim = await claimIdempotencyKey(this.deps.store, principal.tenantId, idempotency.key, { jobId: record.id, requestHash: idempotency.hash });
      record = { ...record, id: claim.jobId };
    }
    const earlier = await this.records.read(principal.tenantId, record.id);
    if (earlier) return { generation: earlier, created: false };
    try {
      return { generation: await this.records.create(record), created: true };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const raced = await this.records.read(principal.tenantId, record.id);
      if (!raced) throw error;
      return { generation: raced, created: false };
    }
  }

  /**
   * The generation an earlier request with this Idempotency-Key stored, or undefined: no such
   * request, or it died between its claim and its record (then this one goes through every check
   * and finishes it). Another body under the key: IdempotencyKeyReusedError.
   */
  private async replay(principal: Principal, idempotency: { key: string; hash: string } | undefined): Promise<VersionedGeneration | undefined> {
    if (idempotency === undefined) return undefined;
    const claim = await findIdempotencyClaim(this.deps.store, principal.tenantId, idempotency.key, idempotency.hash);
    return claim && (await this.records.read(principal.tenantId, claim.jobId));
  }

  /**
   * Draws a queued generation's images and finishes it; a finished one is returned as it is. An
   * unexpected failure marks the record failed (code generation_failed) and is rethrown.
   */
  async run(current: VersionedGeneration): Promise<VersionedGeneration> {
    if (current.record.status !== "queued") return current;
    const record = current.record;
    let next: GenerationRecord;
    let failure: unknown;
    try {
      next = await this.draw(record);
    } catch (error) {
      failure = error;
      next = { ...record, status: "failed", error: { code: "generation_failed", message: "the images could not be generated" }, finishedAt: new Date(this.clock.now()).toISOString() };
    }
    const advanced = await this.records.advance(current, next);
    if (failure !== undefined) throw failure;
    // Another runner finished it first: its record stands (same images, billed once).
    return advanced ?? (await this.records.read(record.tenantId, record.id)) ?? current;
  }

  /** The caller's generation, or undefined (missing or another tenant's: they are not told apart). */
  async get(principal: Principal, generationId: string): Promise<VersionedGeneration | undefined> {
    return this.records.read(principal.tenantId, generationId);
  }

  private async draw(record: GenerationRecord): Promise<GenerationRecord> {
    const started = this.clock.now();
    const stored = await this.deps.store.get(record.embeddingKey);
    if (!stored) throw new Error(`embedding ${record.embeddingKey} of inversion ${record.inversionId} is missing from the store`);
    const { embedding } = decodeEmbedding(stored.body);
    const result = await this.generator.generate(this.models.resolve(record.model), {
      prompt: record.prompt,
      negativePrompt: record.negativePrompt,
      n: record.n,
      steps: record.steps,
      guidance: record.guidance,
      seed: record.seed,
      embedding,
      ...(record.scheduler === null ? {} : { sampler: SCHEDULER_SAMPLERS[record.scheduler] }),
    });
    const images: NonNullable<GenerationRecord["images"]> = [];
    for (const [index, image] of result.images.entries()) {
      const key = generationImageKey(record.tenantId, record.id, index);
      // Same request, same bytes: a repeated run overwrites an image with itself.
      await this.deps.store.put(key, await pngBytes(image), { contentType: "image/png" });
      images.push({ key, seed: image.seed, width: image.width, height: image.height });
    }
    const finished = this.clock.now();
    const { record: billed } = await new UsageLedger(this.deps.store).record({
      kind: "generation",
      tenantId: record.tenantId,
      keyId: record.keyId,
      jobId: record.id,
      slice: 0,
      steps: record.n * record.steps,
      device: this.deps.device ?? "cpu",
      seconds: Math.max(0, (finished - started) / 1000),
      recordedAt: new Date(finished).toISOString(),
    });
    return {
      ...record,
      status: "succeeded",
      images,
      sampler: schedulerOf(result.sampler),
      warnings: result.warnings,
      usage: { steps: billed.steps, seconds: billed.seconds },
      finishedAt: new Date(finished).toISOString(),
    };
  }
}
