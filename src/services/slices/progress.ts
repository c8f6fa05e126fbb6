/**
 * Progress between checkpoints. A slice runs for up to ten minutes and the job record moves
 * only when it ends, so the running slice also publishes a small progress object: the steps
 * completed and the history rows since the checkpoint it started from, every couple of
 * seconds. It is best-effort and last-writer-wins (`jobs/<id>/progress.json`, plain puts, no
 * fencing, never read for correctness): readers merge it into what they show only while it is
 * ahead of the record it extends (same slice, same starting step, more steps).
 */
import { z } from "zod";
import { storedObject } from "../../core/io/stored-object.js";
import type { InversionHistory } from "../../core/inversion/state.js";
import type { Store } from "../../ports/store/index.js";

export function progressKey(jobId: string): string {
  return `jobs/${jobId}/progress.json`;
}

const row = z.array(z.number().nullable());

/** Fields a newer slice adds do not hide the hint from an older reader (storedObject). */
const progressSchema = storedObject({
  format: z.literal("dvar-progress"),
  jobId: z.string(),
  /** The slice that wrote it (the record's `slice` while that slice runs). */
  slice: z.number().int().min(0),
  /** Completed steps when the slice started: the checkpoint's step, where `tail` begins. */
  fromStep: z.number().int().min(0),
  /** Completed steps now. */
  step: z.number().int().min(0),
  updatedAt: z.iso.datetime(),
  /** History rows fromStep + 1 .. step (null where a value was not computed). */
  tail: storedObject({ trainLoss: row, ldet: row, criterion: row }),
});

export type JobProgress = z.infer<typeof progressSchema>;

/** The job's progress object, or undefined when there is none or it does not parse (it is only a hint). */
export async function readProgress(store: Store, jobId: string): Promise<JobProgress | undefined> {
  const found = await store.get(progressKey(jobId));
  if (!found) return undefined;
  try {
    const parsed = progressSchema.safeParse(JSON.parse(new TextDecoder().decode(found.body)));
    return parsed.success && parsed.data.jobId === jobId && parsed.data.step - parsed.data.fromStep === parsed.data.tail.trainLoss.length ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The progress rows as history columns (null back to NaN). */
export function progressTail(progress: JobProgress): Pick<InversionHistory, "trainLoss" | "ldet" | "criterion"> {
  const nan = (values: ReadonlyArray<number | null>) => values.map((v) => v ?? NaN);
  return { trainLoss: nan(progress.tail.trainLoss), ldet: nan(progress.tail.ldet), criterion: nan(progress.tail.criterion) };
}

export interface ProgressOptions {
  /** Publish when this many milliseconds passed since the last publish (default 2000). */
  readonly everyMs?: number;
  /** Also publish when this many steps passed since the last publish (default: time only). */
  readonly everySteps?: number;
}

export interface ProgressPublisherDeps {
  readonly store: Store;
  readonly jobId: string;
  readonly slice: number;
  readonly fromStep: number;
  /** Monotonic milliseconds (the slice service's clock for budgets). */
  readonly monotonic: () => number;
  readonly options?: ProgressOptions;
}

/**
 * Publishes a running slice's progress without ever slowing or failing it: at most one write
 * in flight (updates meanwhile are coalesced into the next write), store errors ignored.
 */
export class ProgressPublisher {
  private lastAt: number;
  private lastStep: number;
  private inFlight: Promise<void> | undefined;
  private pending: JobProgress | undefined;
  private readonly everyMs: number;
  private readonly everySteps: number;

  constructor(private readonly deps: ProgressPublisherDeps) {
    this.lastAt = deps.monotonic();
    this.lastStep = deps.fromStep;
    this.everyMs = deps.options?.everyMs ?? 2000;
    this.everySteps = deps.options?.everySteps ?? Number.POSITIVE_INFINITY;
  }

  /** For RunSliceOptions.onUpdate: copies the new rows when a publish is due. */
  update(step: number, history: Readonly<InversionHistory>): void {
    const now = this.deps.monotonic();
    if (step - this.lastStep < this.everySteps && now - this.lastAt < this.everyMs) return;
    this.lastAt = now;
    this.lastStep = step;
    const from = this.deps.fromStep;
    const rows = (values: readonly number[]) => values.slice(from, step).map((v) => (Number.isFinite(v) ? v : null));
    this.pending = {
      format: "dvar-progress",
      jobId: this.deps.jobId,
      slice: this.deps.slice,
      fromStep: from,
      step,
      // System time, informational: the injected clocks bill slices and must not be read here.
      updatedAt: new Date().toISOString(),
      tail: { trainLoss: rows(history.trainLoss), ldet: rows(history.ldet), criterion: rows(history.criterion) },
    };
    this.inFlight ??= this.drain();
  }

  /** Waits for the write in flight (so none lands after the slice's advance); drops anything not yet written. */
  async close(): Promise<void> {
    this.pending = undefined;
    await this.inFlight;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const progress = this.pending;
      this.pending = undefined;
      try {
        await this.deps.store.put(progressKey(progress.jobId), new TextEncoder().encode(JSON.stringify(progress)), { contentType: "application/json" });
      } catch {
        // Best-effort: the record and the checkpoints are the truth; the next publish may succeed.
      }
    }
    this.inFlight = undefined;
  }
}
