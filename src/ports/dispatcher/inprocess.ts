/**
 * The embedded dispatcher: a bounded-concurrency queue in this process. A (job, slice) that is
 * queued or running is not queued again. A slice that throws is reported to `onError` and the
 * queue goes on: nothing a slice does can crash the process through the dispatcher.
 */
import {
  DispatcherClosedError,
  invocationKey,
  parseSliceInvocation,
  type DispatchReceipt,
  type Dispatcher,
  type SliceInvocation,
} from "./dispatcher.js";

export interface RunSliceContext {
  /** Aborted by `close({ interrupt: true })`: the slice should checkpoint and return early. */
  readonly signal: AbortSignal;
}

export type SliceHandler = (invocation: SliceInvocation, context: RunSliceContext) => Promise<unknown>;

export interface InProcessDispatcherOptions {
  readonly runSlice: SliceHandler;
  /** Slices running at once (default 1: one GPU, one slice). */
  readonly concurrency?: number;
  /** Told about every slice that throws; its own errors are swallowed. */
  readonly onError?: (invocation: SliceInvocation, error: unknown) => void;
}

export class InProcessDispatcher implements Dispatcher {
  private readonly runSlice: SliceHandler;
  private readonly concurrency: number;
  private readonly onError: (invocation: SliceInvocation, error: unknown) => void;
  private readonly queue: SliceInvocation[] = [];
  /** Keys of slices queued or running. */
  private readonly pending = new Set<string>();
  private readonly abort = new AbortController();
  private running = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(options: InProcessDispatcherOptions) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`in-process dispatcher concurrency must be an integer >= 1, got ${concurrency}`);
    }
    this.runSlice = options.runSlice;
    this.concurrency = concurrency;
    this.onError = options.onError ?? (() => {});
  }

  async dispatch(input: SliceInvocation): Promise<DispatchReceipt> {
    const invocation = parseSliceInvocation(input);
    if (this.closed) throw new DispatcherClosedError(`dispatcher is closed; slice ${invocationKey(invocation)} not queued`);
    const key = invocationKey(invocation);
    const receipt = { jobId: invocation.jobId, slice: invocation.slice, dispatcher: "inprocess" as const, ref: key };
    if (this.pending.has(key)) return { ...receipt, duplicate: true };
    this.pending.add(key);
    this.queue.push(invocation);
    // Start on a later tick: the caller (often a slice finishing) is never re-entered.
    queueMicrotask(() => this.pump());
    return { ...receipt, duplicate: false };
  }

  /** Slices queued or running now. */
  get size(): number {
    return this.pending.size;
  }

  /** Resolves once nothing is queued or running, including slices dispatched meanwhile. */
  drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuses new dispatches and waits for the queue to empty. With `interrupt`, running slices
   * are asked (through their signal) to stop at the next update, and queued ones still start
   * but see the aborted signal at once.
   */
  async close(options: { interrupt?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (options.interrupt) this.abort.abort();
    await this.drain();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const invocation = this.queue.shift()!;
      this.running++;
      void this.execute(invocation);
    }
  }

  private async execute(invocation: SliceInvocation): Promise<void> {
    try {
      await this.runSlice(invocation, { signal: this.abort.signal });
    } catch (error) {
      try {
        this.onError(invocation, error);
      } catch {
        // A failing error reporter must not take the process down either.
      }
    } finally {
      this.running--;
      this.pending.delete(invocationKey(invocation));
      this.pump();
      if (this.pending.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }
}
