/**
 * The job operations behind the HTTP API. Every read checks the record's tenant: another
 * tenant's job is reported exactly like a missing one. Failures clients can act on are
 * typed errors (InversionInputError, TrainingInputError, IdempotencyKeyReusedError,
 * BudgetExhaustedError, JobConflictError); the handlers map them to problem codes.
 */
import { randomBytes } from "node:crypto";
import { InvalidConfigError } from "../../core/inversion/config.js";
import { systemClock, type Clock } from "../../ports/clock.js";
import type { Dispatcher } from "../../ports/dispatcher/index.js";
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";
import type { Principal } from "../auth/index.js";
import { clearJobActive, isTerminal, JobStore, markJobActive, newJobRecord, type JobRecord, type VersionedJob } from "../jobs/index.js";
import { deleteJobInputs, JobInputSourceMissingError, writeJobInput, type JobInputSource } from "../jobs/job-inputs.js";
import { noJobEvents, type JobEventSink } from "../slices/events.js";
import { UnknownModelError, type ModelCatalog } from "../models/model-ids.js";
import { DAY_MS, DEFAULT_UPLOAD_EXPIRY, usableForNewJob, type UploadExpiry } from "../uploads/upload-expiry.js";
import { newUploadId, uploadIssuedAt, uploadKey } from "../uploads/upload-keys.js";
import { findUploadKey } from "../uploads/upload-lookup.js";
import { putUpload, type InspectedUpload } from "../uploads/inspected-upload.js";
import { assertWithinBudget } from "../usage/budget.js";
import { checkWebhookUrl, WebhookUrlRefusedError, type WebhookNetworkPolicy } from "../webhooks/url-guard.js";
import type { CreateInversionRequest, TextualInversionUploadConfig } from "../../handlers/schemas/inversion-request.js";
import { configFromRequest } from "./config-from-request.js";
import { claimIdempotencyKey, findIdempotencyClaim, requestHash } from "../idempotency/index.js";
import { indexJob, listJobIds } from "./job-index.js";
import { TrainingInputError, type InlineImage, type TrainingInputCheck } from "./training-input-error.js";

export class InversionInputError extends Error {
  override readonly name = "InversionInputError";
}

export class JobConflictError extends Error {
  override readonly name = "JobConflictError";
}

export interface InversionServiceDeps {
  readonly store: Store;
  readonly dispatcher: Pick<Dispatcher, "dispatch">;
  readonly webhookPolicy: WebhookNetworkPolicy;
  /** When given, textual_inversion jobs must name a model it serves. */
  readonly models?: ModelCatalog;
  /**
   * Checks a textual_inversion request's model, tokens and images before anything is stored
   * (training-inputs.ts, with the engine; createApi supplies it). Without it (Workers) only the
   * model id and the uploads' existence are checked here, and the first slice checks the rest.
   */
  readonly trainingInputs?: TrainingInputCheck;
  readonly events?: JobEventSink;
  readonly clock?: Clock;
  readonly newId?: (prefix: "inv" | "upl") => string;
  /** Uploads older than its job window are refused (422 upload_missing); null: uploads never expire. Default: DEFAULT_UPLOAD_EXPIRY. */
  readonly uploadExpiry?: UploadExpiry | null;
}

export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

export class InversionService {
  private readonly jobs: JobStore;
  private readonly clock: Clock;
  private readonly events: JobEventSink;

  constructor(private readonly deps: InversionServiceDeps) {
    this.jobs = new JobStore(deps.store);
    this.clock = deps.clock ?? systemClock;
    this.events = deps.events ?? noJobEvents;
  }

  /**
   * Creates (or, for a repeated Idempotency-Key, finds) the job and dispatches its first slice.
   * A replay is looked up before any other check, so it answers the original job even when its
   * uploads have expired or the key's budget has run out since.
   */
  async create(principal: Principal, request: CreateInversionRequest, idempotencyKey?: string): Promise<{ job: VersionedJob; created: boolean }> {
    const idempotency = idempotencyKey === undefined ? undefined : { key: idempotencyKey, hash: requestHash(request) };
    const replayed = await this.replay(principal, idempotency);
    if (replayed) return replayed;
    await this.admit(principal, request);
    const images = request.objective === "textual_inversion" ? request.images : [];
    return this.persist(principal, request, idempotency, {
      stage: async () => {},
      // The key it is stored under (an id from before the uploads/ layout may be at the old key).
      source: async (i) => ({ key: (await findUploadKey(this.deps.store, principal.tenantId, images[i]!)) ?? uploadKey(principal.tenantId, images[i]!) }),
    });
  }

  /**
   * The multipart form of create: the training images come with the request, already inspected
   * (inspectUpload). They are stored as uploads only once every check has passed and the job is
   * about to be created, so a refused request stores nothing and a replayed one stores nothing
   * new. The Idempotency-Key hash covers the images' SHA-256, not the fresh upload ids. Each
   * image's `label` names it in errors (the form part), since the client never sees those ids.
   */
  async createWithImages(
    principal: Principal,
    request: TextualInversionUploadConfig,
    images: readonly (InspectedUpload & { readonly label: string })[],
    idempotencyKey?: string,
  ): Promise<{ job: VersionedJob; created: boolean }> {
    const hash = requestHash({ ...request, image_sha256: images.map((image) => image.sha256) });
    const idempotency = idempotencyKey === undefined ? undefined : { key: idempotencyKey, hash };
    const replayed = await this.replay(principal, idempotency);
    if (replayed) return replayed;
    const ids = images.map(() => (this.deps.newId ? this.deps.newId("upl") : newUploadId(this.clock.now())));
    const full: CreateInversionRequest = { ...request, images: ids };
    await this.admit(principal, full, images);
    return this.persist(principal, full, idempotency, {
      stage: async () => {
        for (const [i, image] of images.entries()) await putUpload(this.deps.store, principal.tenantId, ids[i]!, image);
      },
      source: async (i) => ({ bytes: images[i]!.bytes, contentType: images[i]!.contentType }),
    });
  }

  /**
   * The job an earlier request with this Idempotency-Key created (its follow-ups finished), or
   * undefined: no such request, or it died before its job was stored (then this one goes
   * through every check and finishes it). Another body under the key: IdempotencyKeyReusedError.
   */
  private async replay(principal: Principal, idempotency: { key: string; hash: string } | undefined): Promise<{ job: VersionedJob; created: boolean } | undefined> {
    if (idempotency === undefined) return undefined;
    const claim = await findIdempotencyClaim(this.deps.store, principal.tenantId, idempotency.key, idempotency.hash);
    const job = claim && (await this.jobs.read(claim.jobId));
    if (!job) return undefined;
    return { job: await this.finish(principal, job), created: false };
  }

  /**
   * The checks before anything is stored: budget (402), webhook URL (422), and for textual
   * inversions the model, tokens and images (422; `inline`: the request's own images).
   */
  private async admit(principal: Principal, request: CreateInversionRequest, inline?: readonly InlineImage[]): Promise<void> {
    await assertWithinBudget(this.deps.store, principal);
    if (request.webhook) {
      try {
        await checkWebhookUrl(request.webhook.url, this.deps.webhookPolicy);
      } catch (error) {
        if (error instanceof WebhookUrlRefusedError) throw new InversionInputError(`webhook.url refused: ${error.message}`);
        throw error;
      }
    }
    if (request.objective !== "textual_inversion") return;
    const inputs = {
      tenantId: principal.tenantId,
      model: request.model,
      placeholderToken: request.placeholder_token,
      initializerToken: request.initializer_token,
      numVectors: request.num_vectors,
      images: request.images,
    };
    if (inline === undefined) this.assertUploadsUsable(request.images);
    if (this.deps.trainingInputs) return this.deps.trainingInputs.check(inputs, inline);
    this.assertModelServed(request.model);
    if (inline === undefined) await this.assertUploadsExist(principal.tenantId, request.images);
  }

  /**
   * Validates the config, claims the Idempotency-Key, then (unless the job exists already) stores
   * the request's inputs with `inputs.stage`, copies the training images into the job's own
   * prefix and creates the record pointing at the copies; indexes and dispatches it.
   */
  private async persist(
    principal: Principal,
    request: CreateInversionRequest,
    idempotency: { key: string; hash: string } | undefined,
    inputs: { stage: () => Promise<void>; source: (index: number) => Promise<JobInputSource> },
  ): Promise<{ job: VersionedJob; created: boolean }> {
    const now = new Date(this.clock.now());
    const recordFor = (id: string, copies?: readonly string[], sources?: readonly (string | undefined)[]) => {
      try {
        return newJobRecord({
          id,
          tenantId: principal.tenantId,
          keyId: principal.keyId,
          config: configFromRequest(request, principal.tenantId, copies, sources),
          webhook: request.webhook ?? null,
          now,
        });
      } catch (error) {
        if (error instanceof InvalidConfigError) throw new InversionInputError(error.message);
        throw error;
      }
    };
    // Validated before the claim, so a refused config stores nothing.
    let id = recordFor((this.deps.newId ?? randomId)("inv")).id;
    if (idempotency !== undefined) {
      id = (await claimIdempotencyKey(this.deps.store, principal.tenantId, idempotency.key, { jobId: id, requestHash: idempotency.hash })).jobId;
    }
    let job = await this.jobs.read(id);
    const created = job === undefined;
    if (!job) job = await this.createJob(id, request, idempotency !== undefined, inputs, recordFor);
    return { job: await this.finish(principal, job), created };
  }

  /** Stores the inputs, the copies and the record of job `id` (or finds the record a concurrent identical request wrote). */
  private async createJob(
    id: string,
    request: CreateInversionRequest,
    claimed: boolean,
    inputs: { stage: () => Promise<void>; source: (index: number) => Promise<JobInputSource> },
    recordFor: (id: string, copies?: readonly string[], sources?: readonly (string | undefined)[]) => JobRecord,
  ): Promise<VersionedJob> {
    const copies: string[] = [];
    const sources: (string | undefined)[] = [];
    try {
      // Marked before the first copy, so the recovery sweep finds (and, a day on, deletes) the
      // copies of a create that dies before its record (services/recovery/job-sweeper.ts).
      await markJobActive(this.deps.store, id, new Date(this.clock.now()));
      await inputs.stage();
      if (request.objective === "textual_inversion") {
        for (const i of request.images.keys()) {
          const source = await inputs.source(i);
          sources.push("key" in source ? source.key : undefined);
          copies.push(await this.copyInput(id, i, request.images[i]!, source));
        }
      }
      // (A synthetic job has no images: its config ignores the empty lists.)
      return await this.jobs.create(recordFor(id, copies, sources));
    } catch (error) {
      if (error instanceof PreconditionFailedError) {
        const job = await this.jobs.read(id);
        if (job) return job;
      }
      // An id only this request holds (no Idempotency-Key) and no record: nobody will read the
      // copies, so remove them. Under a key they stay for the retry, which copies the same bytes.
      if (!claimed && request.objective === "textual_inversion") await this.removeUnusedCopies(id, request.images.length);
      throw error;
    }
  }

  private async copyInput(jobId: string, index: number, uploadId: string, source: JobInputSource): Promise<string> {
    try {
      return await writeJobInput(this.deps.store, jobId, index, source);
    } catch (error) {
      // Deleted between the check and the copy (an expiry sweep, S3's lifecycle rule).
      if (error instanceof JobInputSourceMissingError) throw new TrainingInputError("upload_missing", `images: upload "${uploadId}" does not exist`);
      throw error;
    }
  }

  private async removeUnusedCopies(id: string, count: number): Promise<void> {
    try {
      if (await this.jobs.read(id)) return;
      await deleteJobInputs(this.deps.store, id, count);
      await clearJobActive(this.deps.store, id);
    } catch {
      // Best effort: left over, they sit under an id no other request uses, and the sweep deletes them.
    }
  }

  /** Index and first dispatch: both safe to repeat, so a retried request completes one that died half-way. */
  private async finish(principal: Principal, job: VersionedJob): Promise<VersionedJob> {
    await indexJob(this.deps.store, principal.tenantId, Date.parse(job.record.createdAt), job.record.id);
    if (job.record.status === "queued" && job.record.slice === 0) await this.deps.dispatcher.dispatch({ jobId: job.record.id, slice: 0 });
    return job;
  }

  /** The caller's job, or undefined (missing, malformed id, or another tenant's). */
  async get(principal: Principal, jobId: string): Promise<VersionedJob | undefined> {
    const job = await this.jobs.read(jobId);
    return job && job.record.tenantId === principal.tenantId ? job : undefined;
  }

  async list(principal: Principal, limit: number, cursor?: string): Promise<{ jobs: VersionedJob[]; cursor?: string }> {
    const page = await listJobIds(this.deps.store, principal.tenantId, limit, cursor);
    const jobs: VersionedJob[] = [];
    for (const id of page.ids) {
      const job = await this.get(principal, id);
      if (job) jobs.push(job);
    }
    return page.cursor === undefined ? { jobs } : { jobs, cursor: page.cursor };
  }

  /**
   * Cancels a queued or running job (If-Match on the record; a slice that advances meanwhile
   * makes this retry from the new record, and a slice that finds the record canceled loses its
   * race). Canceling a canceled job is a no-op; a finished one is a conflict.
   */
  async cancel(principal: Principal, jobId: string): Promise<VersionedJob | undefined> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const job = await this.get(principal, jobId);
      if (!job) return undefined;
      if (job.record.status === "canceled") return job;
      if (isTerminal(job.record.status)) throw new JobConflictError(`the job has already ${job.record.status}`);
      const at = new Date(this.clock.now()).toISOString();
      const canceled = await this.jobs.advance(job, { ...job.record, status: "canceled", updatedAt: at, finishedAt: at });
      if (canceled) {
        await this.events.emit(canceled.record, "inversion.canceled");
        return canceled;
      }
    }
    throw new JobConflictError("the job kept changing; try again");
  }

  private assertModelServed(model: string): void {
    try {
      this.deps.models?.resolve(model);
    } catch (error) {
      if (error instanceof UnknownModelError) throw new TrainingInputError("unknown_model", `model: ${error.message}`);
      throw error;
    }
  }

  /** An upload close to expiry could go before the job is done with it (upload-expiry.ts). */
  private assertUploadsUsable(ids: readonly string[]): void {
    const expiry = this.deps.uploadExpiry === undefined ? DEFAULT_UPLOAD_EXPIRY : this.deps.uploadExpiry;
    if (expiry === null) return;
    const now = this.clock.now();
    for (const id of ids) {
      if (usableForNewJob(expiry, uploadIssuedAt(id), now)) continue;
      const days = (ms: number) => Number((ms / DAY_MS).toFixed(2));
      throw new TrainingInputError(
        "upload_missing",
        `images: upload "${id}" has expired for new jobs (uploads are kept ${days(expiry.ttlMs)} days and may start a job for ${days(expiry.ttlMs - expiry.jobWindowMs)}); upload the image again`,
      );
    }
  }

  private async assertUploadsExist(tenantId: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      if ((await findUploadKey(this.deps.store, tenantId, id)) === undefined) throw new TrainingInputError("upload_missing", `images: upload "${id}" does not exist`);
    }
  }
}
