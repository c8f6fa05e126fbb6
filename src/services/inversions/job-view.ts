/** Job records as API resources: the summary, and the detail with histories and usage. */
import { decodeCheckpoint } from "../../core/checkpoint/index.js";
import type { Store } from "../../ports/store/index.js";
import type { Histories, Inversion, InversionSummary } from "../../handlers/schemas/inversion-resource.js";
import type { JobRecord } from "../jobs/index.js";
import { readHistorySummary, type HistoryColumns } from "../slices/history-summary.js";
import { progressTail, readProgress, type JobProgress } from "../slices/progress.js";
import { OBJECTIVE_KINDS } from "./config-from-request.js";
import { embeddingFormatsOf } from "./embedding-formats.js";

export const MAX_HISTORY_ROWS = 256;

function publicObjective(config: JobRecord["config"]): InversionSummary["objective"] {
  const kind = (config.objective as { kind?: unknown } | undefined)?.kind;
  const entry = Object.entries(OBJECTIVE_KINDS).find(([, internal]) => internal === kind);
  return entry ? (entry[0] as keyof typeof OBJECTIVE_KINDS) : null;
}

function placeholderTokenOf(config: JobRecord["config"]): string | null {
  const token = (config.objective as { placeholderToken?: unknown } | undefined)?.placeholderToken;
  return typeof token === "string" ? token : null;
}

/**
 * Responses name each field they show: stored objects keep fields a newer release added
 * (docs/STORE.md, "Compatibility"), and those must not reach clients unannounced.
 */
function publicOutcome(outcome: JobRecord["outcome"]): InversionSummary["outcome"] {
  switch (outcome?.kind) {
    case undefined:
      return null;
    case "converged":
      return { kind: outcome.kind, step: outcome.step, criterion: outcome.criterion, value: outcome.value };
    case "max_steps":
      return { kind: outcome.kind, step: outcome.step };
    case "failed":
      return { kind: outcome.kind, step: outcome.step, reason: outcome.reason };
  }
}

function publicError(error: JobRecord["error"]): InversionSummary["error"] {
  return error === null ? null : { code: error.code, message: error.message };
}

function publicWebhook(webhook: JobRecord["webhook"]): InversionSummary["webhook"] {
  return webhook === null ? null : { url: webhook.url, ...(webhook.events === undefined ? {} : { events: webhook.events }) };
}

/**
 * The running slice's progress object when it extends this record: written by the slice the
 * record says is running, from the step the record is at, and ahead of it. Anything else (an
 * earlier slice's, a finished job's, a malformed one) is ignored.
 */
export function progressAhead(job: JobRecord, progress: JobProgress | undefined): JobProgress | undefined {
  if (!progress || job.status !== "running") return undefined;
  return progress.jobId === job.id && progress.slice === job.slice && progress.fromStep === job.step && progress.step > job.step ? progress : undefined;
}

/** The summary; with the running slice's progress, `step` is its step (see progressAhead). */
export function summarizeJob(job: JobRecord, progress?: JobProgress): InversionSummary {
  const ahead = progressAhead(job, progress);
  return {
    id: job.id,
    object: "inversion",
    objective: publicObjective(job.config),
    placeholder_token: placeholderTokenOf(job.config),
    status: job.status,
    step: ahead?.step ?? job.step,
    max_steps: job.config.maxSteps as number,
    stopping: job.config.stop as Record<string, unknown>,
    outcome: publicOutcome(job.outcome),
    error: publicError(job.error),
    webhook: publicWebhook(job.webhook),
    created_at: job.createdAt,
    updated_at: job.updatedAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  };
}

/** Evenly spaced rows (always the first and last), NaN as null. */
export function downsampleHistory(history: HistoryColumns, maxRows = MAX_HISTORY_ROWS): Histories {
  const n = history.trainLoss.length;
  const rows = n <= maxRows ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: maxRows }, (_, k) => Math.round((k * (n - 1)) / (maxRows - 1)));
  const pick = (values: number[]) => rows.map((i) => (Number.isFinite(values[i]) ? values[i]! : null));
  return { total_steps: n, step: rows.map((i) => i + 1), train_loss: pick(history.trainLoss), l_det: pick(history.ldet), criterion: pick(history.criterion) };
}

function lastFinite(values: readonly number[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (Number.isFinite(values[i])) return values[i]!;
  return null;
}

const seconds = (from: string | null, to: string | null) => (from === null || to === null ? null : (Date.parse(to) - Date.parse(from)) / 1000);

async function jobUsage(store: Store, job: JobRecord): Promise<Inversion["usage"]> {
  const usage = { slices: 0, steps: 0, seconds: 0 };
  const page = await store.list(`usage/${job.tenantId}/${job.keyId}/${job.id}/`);
  for (const entry of page.entries) {
    const found = await store.get(entry.key);
    if (!found) continue;
    const record = JSON.parse(new TextDecoder().decode(found.body)) as { steps: number; seconds: number };
    usage.slices += 1;
    usage.steps += record.steps;
    usage.seconds += record.seconds;
  }
  return usage;
}

/**
 * The histories of the record's checkpoint: from the summary the slice wrote beside it, else (jobs
 * from before summaries, a failed summary write) from the checkpoint itself; null before the first
 * checkpoint, or when it was just replaced.
 */
export async function checkpointHistories(store: Store, job: JobRecord): Promise<HistoryColumns | null> {
  if (job.checkpoint === null) return null;
  const summary = await readHistorySummary(store, job.checkpoint, { configHash: job.configHash, step: job.step });
  if (summary) return summary;
  const found = await store.get(job.checkpoint);
  return found ? decodeCheckpoint(found.body, { expectedConfigHash: job.configHash }).history : null;
}

/**
 * The detail view: the latest checkpoint's histories (checkpointHistories), extended by the
 * running slice's progress rows when they continue it.
 */
export async function describeJob(store: Store, job: JobRecord, now: Date): Promise<Inversion> {
  let history = await checkpointHistories(store, job);
  const progress = progressAhead(job, await readProgress(store, job.id));
  if (progress && (history?.trainLoss.length ?? 0) === progress.fromStep) {
    const tail = progressTail(progress);
    const base = history ?? { trainLoss: [], ldet: [], criterion: [] };
    history = { trainLoss: [...base.trainLoss, ...tail.trainLoss], ldet: [...base.ldet, ...tail.ldet], criterion: [...base.criterion, ...tail.criterion] };
  }
  const isDvar = (job.config.stop as { name?: string }).name === "dvar";
  const end = job.finishedAt ?? now.toISOString();
  return {
    ...summarizeJob(job, progress),
    dvar_ratio: isDvar && history ? lastFinite(history.criterion) : null,
    histories: history ? downsampleHistory(history) : null,
    timings: { queued_seconds: seconds(job.createdAt, job.startedAt ?? (job.finishedAt ?? now.toISOString())), running_seconds: seconds(job.startedAt, job.startedAt ? end : null) },
    usage: await jobUsage(store, job),
    embedding_formats: embeddingFormatsOf(job),
  };
}
