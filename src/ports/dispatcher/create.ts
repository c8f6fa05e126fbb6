/** Builds the configured dispatcher. Modal's SDK is loaded only when Modal is configured. */
import type { DispatcherConfig } from "./config.js";
import type { Dispatcher } from "./dispatcher.js";
import { InProcessDispatcher, type SliceHandler } from "./inprocess.js";

export interface DispatcherDeps {
  /** What the in-process dispatcher runs (the slice service); unused by Modal. */
  readonly runSlice: SliceHandler;
  readonly onError?: (invocation: { jobId: string; slice: number }, error: unknown) => void;
}

export async function createDispatcher(config: DispatcherConfig, deps: DispatcherDeps): Promise<Dispatcher> {
  if (config.kind === "inprocess") {
    return new InProcessDispatcher({ runSlice: deps.runSlice, concurrency: config.concurrency, ...(deps.onError ? { onError: deps.onError } : {}) });
  }
  const { ModalDispatcher } = await import("./modal/modal-dispatcher.js");
  return new ModalDispatcher(config);
}
