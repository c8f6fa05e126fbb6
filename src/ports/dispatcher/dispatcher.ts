/**
 * The Dispatcher port: starts one bounded slice of one job somewhere (this process, or a GPU
 * sandbox on Modal). Dispatch is at-least-once and idempotent per (job, slice): dispatching a
 * slice that is already queued or running is reported as a duplicate, not started again. Two
 * runs of one slice are harmless anyway (the job record is advanced with If-Match, see
 * src/services/slices), so deduplication saves work; it is not what keeps jobs correct.
 */
import { z } from "zod";

/** Job ids are the ids the Store and usage records accept. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const sliceInvocationSchema = z.strictObject({
  jobId: z.string().regex(JOB_ID_PATTERN, "job id must be 1-64 characters of [A-Za-z0-9_-]"),
  /** 0, 1, 2, ... within the job. */
  slice: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

/** What a slice function is started with: the job id and the slice number, nothing else. */
export type SliceInvocation = z.infer<typeof sliceInvocationSchema>;

export interface DispatchReceipt {
  readonly jobId: string;
  readonly slice: number;
  /** Which implementation took it. */
  readonly dispatcher: "inprocess" | "modal";
  /** True when the same slice was already queued or running and nothing new was started. */
  readonly duplicate: boolean;
  /** Where it runs, when the backend names it (a Modal sandbox id or name). */
  readonly ref?: string;
}

export interface Dispatcher {
  /** Starts (or queues) the slice; resolves once the backend has accepted it. */
  dispatch(invocation: SliceInvocation): Promise<DispatchReceipt>;
  /** Stops accepting work and releases resources; in-process slices already queued still run. */
  close(): Promise<void>;
}

export class InvalidInvocationError extends Error {
  override readonly name = "InvalidInvocationError";
}

/** The backend refused or failed to start a slice; `cause` holds the backend's error. */
export class DispatchError extends Error {
  override readonly name = "DispatchError";
}

/** `dispatch` after `close`. */
export class DispatcherClosedError extends Error {
  override readonly name = "DispatcherClosedError";
}

/** Validates an invocation; throws InvalidInvocationError naming the bad field. */
export function parseSliceInvocation(input: unknown): SliceInvocation {
  const result = sliceInvocationSchema.safeParse(input);
  if (!result.success) throw new InvalidInvocationError(`invalid slice invocation: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** `<jobId>/<slice>`: the identity that deduplication uses. */
export function invocationKey(invocation: SliceInvocation): string {
  return `${invocation.jobId}/${invocation.slice}`;
}
