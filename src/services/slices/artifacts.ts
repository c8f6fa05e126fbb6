/**
 * Store keys of a job's checkpoints and outputs, and the default output writer. Every object a
 * slice writes before advancing the job record has a key unique to that attempt, so a slice
 * that loses the race can delete exactly what it wrote and nothing the winner wrote. Two job
 * objects are shared by all attempts and left in place by a loser: the latent cache
 * (content-addressed, valid for every attempt; ./textual-inversion.ts) and the progress hint
 * (./progress.ts).
 */
import { randomBytes } from "node:crypto";
import { encodeSafetensors } from "../../core/io/safetensors.js";
import type { InversionState } from "../../core/inversion/state.js";
import type { Store } from "../../ports/store/index.js";
import type { JobRecord } from "../jobs/job-record.js";

/** A fresh id for one run of one slice. */
export function newAttemptId(): string {
  return randomBytes(8).toString("hex");
}

/** `jobs/<id>/checkpoints/<step, 9 digits>-<attempt>`: listing sorts them by step. */
export function checkpointKey(jobId: string, step: number, attempt: string): string {
  return `jobs/${jobId}/checkpoints/${String(step).padStart(9, "0")}-${attempt}`;
}

export function outputsPrefix(jobId: string, attempt: string): string {
  return `jobs/${jobId}/outputs/${attempt}/`;
}

export interface OutputContext {
  readonly store: Store;
  readonly job: JobRecord;
  readonly state: InversionState;
  readonly attempt: string;
}

/** Writes a finished job's outputs; returns their keys by name. */
export type OutputWriter = (context: OutputContext) => Promise<Record<string, string>>;

/**
 * The default: the final parameters (and the lowest-L_det parameters, when tracked) as one
 * safetensors file. The engine supplies a writer for the embedding formats.
 */
export const writeParamsOutput: OutputWriter = async ({ store, job, state, attempt }) => {
  const n = state.params.length;
  const tensors = {
    params: { dtype: "F32" as const, shape: [n], data: state.params },
    ...(state.best ? { "best.params": { dtype: "F32" as const, shape: [n], data: state.best.params } } : {}),
  };
  const key = `${outputsPrefix(job.id, attempt)}params.safetensors`;
  await store.put(key, encodeSafetensors(tensors, { job: job.id, step: String(state.step) }), {
    ifNoneMatch: "*",
    contentType: "application/octet-stream",
  });
  return { params: key };
};
