/**
 * A model session on its own worker thread. onnxruntime-node 1.30 runs `session.run` on the
 * calling thread (deferred by setImmediate, not moved off it), so a long run blocks the event
 * loop: no lease renewal, no HTTP answer until it ends. Here the session lives in a worker and
 * the calling thread only posts feeds and awaits outputs.
 *
 * Tensors cross as copies of exactly their views (a feed may be a view of a larger buffer the
 * caller keeps using), transferred rather than cloned a second time. The worker is unref'd
 * while idle, so a forgotten session does not keep the process alive, and ref'd while a call
 * is in flight, so an awaited call does.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type ort from "onnxruntime-node";
import type { HostTensor, SessionBackend } from "./session.js";

/** CommonJS source of the worker: it needs only onnxruntime-node, resolved by the caller. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ortPath);
const message = (e) => (e instanceof Error ? e.message : String(e));
let session;
ort.InferenceSession.create(workerData.source, workerData.options).then(
  (s) => { session = s; parentPort.postMessage({ kind: "ready", inputNames: s.inputNames, outputNames: s.outputNames }); },
  (e) => parentPort.postMessage({ kind: "failed", message: message(e) }),
);
parentPort.on("message", async (m) => {
  if (m.kind === "release") {
    await session.release();
    parentPort.postMessage({ kind: "released" });
    return;
  }
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.data, t.dims);
    const result = m.outputs ? await session.run(feeds, m.outputs) : await session.run(feeds);
    const outputs = {};
    const transfer = [];
    for (const [name, t] of Object.entries(result)) {
      const data = t.data.slice();
      outputs[name] = { data, dims: [...t.dims] };
      transfer.push(data.buffer);
    }
    parentPort.postMessage({ kind: "result", id: m.id, outputs }, transfer);
  } catch (e) {
    parentPort.postMessage({ kind: "result", id: m.id, error: message(e) });
  }
});
`;

const ORT_PATH = createRequire(import.meta.url).resolve("onnxruntime-node");

type FromWorker =
  | { kind: "ready"; inputNames: string[]; outputNames: string[] }
  | { kind: "failed"; message: string }
  | { kind: "result"; id: number; outputs?: Record<string, HostTensor>; error?: string }
  | { kind: "released" };

interface Pending {
  resolve(outputs: Record<string, HostTensor>): void;
  reject(error: Error): void;
}

/** Starts a worker, creates the session in it (from a path or the model's bytes) and waits until it is ready. */
export async function createThreadedSession(source: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<SessionBackend> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath: ORT_PATH, source, options } });
  try {
    let onMessage!: (m: FromWorker) => void;
    let onError!: (error: Error) => void;
    let onExit!: (code: number) => void;
    const ready = await new Promise<{ inputNames: string[]; outputNames: string[] }>((resolve, reject) => {
      onMessage = (m) => (m.kind === "ready" ? resolve(m) : reject(new Error(m.kind === "failed" ? m.message : `unexpected ${m.kind}`)));
      onError = reject;
      onExit = (code) => reject(new Error(`the session thread exited (code ${code}) before the model was loaded`));
      worker.once("message", onMessage).once("error", onError).once("exit", onExit);
    }).finally(() => worker.off("message", onMessage).off("error", onError).off("exit", onExit));
    return new ThreadedSession(worker, ready.inputNames, ready.outputNames);
  } catch (error) {
    await worker.terminate();
    throw error;
  }
}

class ThreadedSession implements SessionBackend {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Set when the thread died or was released: later calls fail at once. */
  private closed: Error | undefined;
  private released: (() => void) | undefined;

  constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on("message", (m: FromWorker) => this.receive(m));
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`the session thread exited (code ${code})`)));
    worker.unref();
  }

  run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    const copies: Record<string, HostTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const data = t.data.slice();
      copies[name] = { data, dims: [...t.dims] };
      transfer.push(data.buffer as ArrayBuffer);
    }
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: "run", id, feeds: copies, ...(outputs ? { outputs } : {}) }, transfer);
    });
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.worker.ref();
    await new Promise<void>((resolve) => {
      this.released = resolve;
      this.worker.postMessage({ kind: "release" });
    });
    this.closed = new Error("the session was released");
    await this.worker.terminate();
  }

  private receive(m: FromWorker): void {
    if (m.kind === "released") return this.released?.();
    if (m.kind !== "result") return;
    const call = this.pending.get(m.id);
    if (!call) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.error !== undefined) call.reject(new Error(m.error));
    else call.resolve(m.outputs!);
  }

  private fail(error: Error): void {
    this.closed ??= error;
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
    this.released?.();
  }
}
