/**
 * Runs compiled textual-inversion graphs: `step` gives the loss and d loss / d concept,
 * `evaluate` the per-sample losses (DVAR's L_det). Graphs are compiled on first use for
 * each input shape (and cached on disk by the compiler); sessions are kept per shape.
 */
import { compileTextualInversion, defaultCacheDir, type CompileOptions, type CompiledGraphs } from "../graph/textual-inversion/compile.js";
import { DataType } from "../graph/onnx/ir.js";
import { ModelSession, RuntimeError, type HostArray, type ModelRunOptions, type SessionOptions } from "./session.js";

export interface TiInputs {
  /** [B, L] token ids; id V + j selects concept[j]. */
  inputIds: { data: Int32Array | BigInt64Array; dims: number[] };
  /** [k, H] learned vectors. */
  concept: { data: Float32Array; dims: number[] };
  noisyLatents: { data: Float32Array; dims: number[] };
  /** [B] timesteps, integers or floats (converted to what the UNet expects). */
  timesteps: { data: Int32Array | BigInt64Array | Float32Array | Float64Array; dims: number[] };
  target: { data: Float32Array; dims: number[] };
}

export interface TiRunnerOptions extends ModelRunOptions {
  /** null disables the on-disk cache. */
  cacheDir?: string | null;
}

export class TiInputError extends Error {
  override name = "TiInputError";
}

interface Compiled {
  graphs: CompiledGraphs;
  step?: ModelSession;
  eval?: ModelSession;
}

export class TextualInversionRunner {
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    readonly modelDir: string,
    private readonly options: TiRunnerOptions = {},
  ) {}

  async step(inputs: TiInputs): Promise<{ loss: number; grad: Float32Array }> {
    const { c, feeds } = this.prepare(inputs);
    c.step ??= await ModelSession.fromBytes(c.graphs.step, this.sessionOptions(c));
    const out = await c.step.run(feeds);
    return { loss: Number(out.loss!.data[0]), grad: out.grad!.data as Float32Array };
  }

  async evaluate(inputs: TiInputs): Promise<{ loss: number; sampleLosses: Float32Array }> {
    const { c, feeds } = this.prepare(inputs);
    c.eval ??= await ModelSession.fromBytes(c.graphs.eval, this.sessionOptions(c));
    const out = await c.eval.run(feeds);
    return { loss: Number(out.loss!.data[0]), sampleLosses: out.sample_losses!.data as Float32Array };
  }

  private sessionOptions(c: Compiled): SessionOptions {
    const { cacheDir: _cacheDir, ...run } = this.options;
    return { ...run, externalDataDir: c.graphs.root };
  }

  /** Compile options for these inputs, after checking their shapes agree. */
  static shapesOf(inputs: TiInputs): CompileOptions {
    const ids = inputs.inputIds.dims, lat = inputs.noisyLatents.dims, con = inputs.concept.dims;
    if (ids.length !== 2) throw new TiInputError(`input_ids must be [B, L], got [${ids}]`);
    if (con.length !== 2) throw new TiInputError(`concept must be [k, H], got [${con}]`);
    if (lat.length !== 4 || lat[0] !== ids[0]) throw new TiInputError(`noisy_latents must be [B, C, h, w] with B = ${ids[0]}, got [${lat}]`);
    if (inputs.target.dims.join() !== lat.join()) throw new TiInputError(`target must have the shape of noisy_latents [${lat}], got [${inputs.target.dims}]`);
    if (inputs.timesteps.dims.length !== 1 || inputs.timesteps.dims[0] !== ids[0]) throw new TiInputError(`timesteps must be [B] with B = ${ids[0]}, got [${inputs.timesteps.dims}]`);
    return { batch: ids[0]!, tokens: ids[1]!, concepts: con[0]!, latent: [lat[1]!, lat[2]!, lat[3]!] };
  }

  private prepare(inputs: TiInputs) {
    const shapes = TextualInversionRunner.shapesOf(inputs);
    const key = JSON.stringify(shapes);
    let c = this.compiled.get(key);
    if (!c) {
      c = { graphs: compileTextualInversion(this.modelDir, shapes, this.options.cacheDir === undefined ? defaultCacheDir() : this.options.cacheDir) };
      this.compiled.set(key, c);
    }
    const g = c.graphs;
    if (inputs.concept.dims[1] !== g.hiddenSize) throw new TiInputError(`concept vectors have ${inputs.concept.dims[1]} values, the text encoder expects ${g.hiddenSize}`);
    const limit = g.vocabSize + shapes.concepts;
    for (const id of inputs.inputIds.data) {
      if (Number(id) < 0 || Number(id) >= limit) throw new TiInputError(`input_ids holds ${id}: ids must be in [0, ${limit}) (vocabulary ${g.vocabSize} + ${shapes.concepts} concept vectors)`);
    }
    const feeds = {
      input_ids: { data: convert(inputs.inputIds.data, g.idsType), dims: inputs.inputIds.dims },
      concept: inputs.concept,
      noisy_latents: inputs.noisyLatents,
      timesteps: { data: convert(inputs.timesteps.data, g.timestepType), dims: inputs.timesteps.dims },
      target: inputs.target,
    };
    return { c, feeds };
  }

  async close(): Promise<void> {
    for (const c of this.compiled.values()) {
      await c.step?.release();
      await c.eval?.release();
    }
    this.compiled.clear();
  }
}

function convert(data: ArrayLike<number | bigint>, dataType: number): HostArray {
  const values = Array.from(data as ArrayLike<number | bigint>, (v) => Number(v));
  switch (dataType) {
    case DataType.INT64: return BigInt64Array.from(values, (v) => BigInt(Math.round(v)));
    case DataType.INT32: return Int32Array.from(values, (v) => Math.round(v));
    case DataType.FLOAT: return Float32Array.from(values);
    default: throw new RuntimeError(`unsupported model input type ${dataType}`);
  }
}
