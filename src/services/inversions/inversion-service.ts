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
import { PreconditionFailedError, type Store } from "../../ports/store/index.js";
import type { Principal } from "../auth/index.js";
import { isTerminal, JobStore, newJobRecord, type VersionedJob } from "../jobs/index.js";
import { noJobEvents, type JobEventSink } from "../slices/index.js";
import type { ModelCatalog } from "../models/model-catalog.js";
import { budgetRefusal } from "../usage/index.js";
import { checkWebhookUrl, WebhookUrlRefusedError, type WebhookNetworkPolicy } from "../webhooks/index.js";
import type { CreateInversionRequest } from "../../handlers/schemas/inversion-request.js";
import { configFromRequest } from "./config-from-request.js";
import { claimIdempotencyKey, requestHash } from "./idempotency.js";
import { indexJob, listJobIds } from "./job-index.js";
import { TrainingInputChecker } from "./training-inputs.js";

export class InversionInputError extends Error {
  override readonly name = "InversionInputError";
}

export class BudgetExhaustedError extends Error {
  override readonly name = "BudgetExhaustedError";
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
  readonly events?: JobEventSink;
  readonly clock?: Clock;
  readonly newId?: (prefix: "inv" | "upl") => string;
}

export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

export class InversionService {
  private readonly jobs: JobStore;
  private readonly clock: Clock;
  private readonly events: JobEventSink;
  private readonly inputs: TrainingInputChecker;

  constructor(private readonly deps: InversionServiceDeps) {
    this.jobs = new JobStore(deps.store);
    this.inputs = new TrainingInputChecker(deps.store, deps.models);
    this.clock = deps.clock ?? systemClock;
    this.events = deps.events ?? noJobEvents;
  }

  /** Creates (or, for a repeated Idempotency-Key, finds) the job and dispatches its first slice. */
  async create(principal: Principal, request: CreateInversionRequest, idempotencyKey?: string): Promise<{ job: VersionedJob; created: boolean }> {
    await this.assertWithinBudget(principal);
    if (request.webhook) {
      try {
        await checkWebhookUrl(request.webhook.url, this.deps.webhookPolicy);
      } catch (error) {
        if (error instanceof WebhookUrlRefusedError) throw new InversionInputError(`webhook.url refused: ${error.message}`);
        throw error;
      }
    }
    if (request.objective === "textual_inversion") {
      await this.inputs.check({
        tenantId: principal.tenantId,
        model: request.model,
        placeholderToken: request.placeholder_token,
        initializerToken: request.initializer_token,
        numVectors: request.num_vectors,
        images: request.images,
      });
    }
    let record;
    try {
      record = newJobRecord({
        id: (this.deps.newId ?? randomId)("inv"),
        tenantId: principal.tenantId,
        keyId: principal.keyId,
        config: configFromRequest(request, principal.tenantId),
        webhook: request.webhook ?? null,
        now: new Date(this.clock.now()),
      });
    } catch (error) {
      if (error instanceof InvalidConfigError) throw new InversionInputError(error.message);
      throw error;
    }
    if (idempotencyKey !== undefined) {
      const claim = await claimIdempotencyKey(this.deps.store, principal.tenantId, idempotencyKey, { jobId: record.id, requestHash: requestHash(request) });
      record = { ...record, id: claim.jobId };
    }
    let job = await this.jobs.read(record.id);
    const created = job === undefined;
    if (!job) {
      try {
        job = await this.jobs.create(record);
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        job = await this.jobs.read(record.id);
        if (!job) throw error;
      }
    }
    // Both are safe to repeat, so a retried request completes a request that died half-way.
    await indexJob(this.deps.store, principal.tenantId, Date.parse(job.record.createdAt), job.record.id);
    if (job.record.status === "queued" && job.record.slice === 0) await this.deps.dispatcher.dispatch({ jobId: job.record.id, slice: 0 });
    return { job, created };
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

  /** A key with a budget may start jobs while its billed seconds are below it (see usage/key-budget.ts). */
  private async assertWithinBudget(principal: Principal): Promise<void> {
    const refusal = await budgetRefusal(this.deps.store, principal.tenantId, principal.keyId, principal.budgetSeconds);
    if (refusal !== undefined) throw new BudgetExhaustedError(refusal);
  }
}
