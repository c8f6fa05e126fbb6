/**
 * The onnxruntime-node edge: sessions from files or bytes, and conversion between
 * plain typed arrays and ORT tensors. Nothing else in the project imports onnxruntime.
 */
import ort from "onnxruntime-node";

export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface HostTensor {
  data: HostArray;
  dims: number[];
}

export interface SessionOptions {
  /** Intra-op threads (tests use 1; 0 lets onnxruntime pick). */
  threads?: number;
  /** For models loaded from bytes: the folder external-data locations are relative to. */
  externalDataDir?: string;
}

export class RuntimeError extends Error {
  override name = "RuntimeError";
}

function ortOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.threads ?? 0,
    interOpNumThreads: 1,
    executionMode: "sequential",
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

/** A loaded model: run it with named host tensors, get named host tensors back. */
export class ModelSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async fromFile(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
    try {
      return new ModelSession(await ort.InferenceSession.create(modelPath, ortOptions(options)));
    } catch (error) {
      throw new RuntimeError(`onnxruntime could not load ${modelPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  static async fromBytes(bytes: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    try {
      return new ModelSession(await ort.InferenceSession.create(bytes, ortOptions(options)));
    } catch (error) {
      throw new RuntimeError(`onnxruntime could not load the model: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

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

  async release(): Promise<void> {
    await this.session.release();
  }
}
