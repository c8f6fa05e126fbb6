/**
 * The onnxruntime-node edge: sessions from files or bytes, and conversion between
 * plain typed arrays and ORT tensors. Nothing else in the project imports onnxruntime
 * (session-thread.ts hosts a session on a worker thread for `offThread`).
 */
import ort from "onnxruntime-node";
import { createThreadedSession } from "./session-thread.js";

export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface HostTensor {
  data: HostArray;
  dims: number[];
}

/** onnxruntime execution providers this project selects by name, in order of preference. */
export const EXECUTION_PROVIDERS = ["cuda", "cpu"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface SessionOptions {
  /** Intra-op threads (tests use 1; 0 lets onnxruntime pick). */
  threads?: number;
  /** For models loaded from bytes: the folder external-data locations are relative to. */
  externalDataDir?: string;
  /**
   * Run the model on its own worker thread, so the event loop stays free during a run (lease
   * renewals, HTTP answers) at the cost of copying feeds and outputs between threads. The
   * results are the same bits: the same onnxruntime, options and inputs.
   */
  offThread?: boolean;
  /**
   * Execution providers in order (default: onnxruntime's, the CPU). "cuda" needs the CUDA
   * provider libraries (`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`); without them the session
   * fails to load rather than silently running on the CPU.
   */
  executionProviders?: readonly ExecutionProvider[];
}

/** How a caller wants its models run: SessionOptions without the per-model external-data folder. */
export type ModelRunOptions = Omit<SessionOptions, "externalDataDir">;

/** Where a session runs: in this thread, or on a worker thread (session-thread.ts). */
export interface SessionBackend {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export class RuntimeError extends Error {
  override name = "RuntimeError";
}

function ortOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.threads ?? 0,
    interOpNumThreads: 1,
    executionMode: "sequential",
    ...(options.executionProviders ? { executionProviders: [...options.executionProviders] } : {}),
    graphOptimizationLevel: "all",
    // Spinning threads steal the two cores from a second session run back to back.
    extra: {
      session: {
        intra_op: { allow_spinning: "0" },
        ...(options.externalDataDir ? { model_external_initializers_file_folder_path: options.externalDataDir } : {}),
      },
    },
  };
}

class InProcessSession implements SessionBackend {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.data, t.dims);
    const result = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(result)) out[name] = { data: t.data as HostArray, dims: [...t.dims] };
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

async function createBackend(source: string | Uint8Array, options: SessionOptions): Promise<SessionBackend> {
  if (options.offThread) return createThreadedSession(source, ortOptions(options));
  // The overloads of create() take a path or bytes, not their union.
  const session = typeof source === "string" ? await ort.InferenceSession.create(source, ortOptions(options)) : await ort.InferenceSession.create(source, ortOptions(options));
  return new InProcessSession(session);
}

/** A loaded model: run it with named host tensors, get named host tensors back. */
export class ModelSession {
  private constructor(private readonly backend: SessionBackend) {}

  static async fromFile(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
    try {
      return new ModelSession(await createBackend(modelPath, options));
    } catch (error) {
      throw new RuntimeError(`onnxruntime could not load ${modelPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  static async fromBytes(bytes: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    try {
      return new ModelSession(await createBackend(bytes, options));
    } catch (error) {
      throw new RuntimeError(`onnxruntime could not load the model: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.backend.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.backend.outputNames;
  }

  run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
    return this.backend.run(feeds, outputs);
  }

  release(): Promise<void> {
    return this.backend.release();
  }
}
