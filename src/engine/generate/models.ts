/**
 * The three models generation runs: the text encoder with learned vectors (compiled from
 * the pipeline's text encoder, see src/graph/textual-inversion/text-encoder.ts), the UNet
 * and the VAE decoder, each adapted to its export's conventions (id and timestep types).
 */
import { encodeModel } from "../../graph/onnx/codec.js";
import { readModelFile } from "../../graph/onnx/model-file.js";
import { DataType } from "../../graph/onnx/ir.js";
import { textEncoderWithConcepts } from "../../graph/textual-inversion/text-encoder.js";
import { type HostArray, ModelSession, type ModelRunOptions } from "../../runtime/session.js";
import type { ModelFolder } from "../model/folder.js";

export class GenerationModelError extends Error {
  override name = "GenerationModelError";
}

export interface ConditioningEncoder {
  vocabSize: number;
  hiddenSize: number;
  /** [B, L] ids (id V + j selects concept row j) and concept [k, H] -> hidden states [B, L, H]. */
  encode(ids: Int32Array, batch: number, concept: Float32Array, numVectors: number): Promise<Float32Array>;
  release(): Promise<void>;
}

function ids(data: Int32Array, type: number): HostArray {
  return type === DataType.INT64 ? BigInt64Array.from(data, (v) => BigInt(v)) : data;
}

export async function openConditioningEncoder(folder: ModelFolder, sessions: ModelRunOptions): Promise<ConditioningEncoder> {
  const compiled = textEncoderWithConcepts(readModelFile(folder.textEncoder));
  const session = await ModelSession.fromBytes(encodeModel(compiled.model, { externalDataDir: folder.root }), { ...sessions, externalDataDir: folder.root });
  return {
    vocabSize: compiled.vocabSize,
    hiddenSize: compiled.hiddenSize,
    async encode(data, batch, concept, numVectors) {
      const out = await session.run({
        input_ids: { data: ids(data, compiled.idsType), dims: [batch, data.length / batch] },
        concept: { data: concept, dims: [numVectors, compiled.hiddenSize] },
      });
      return out.last_hidden_state!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

export interface Denoiser {
  /** Noise (or v) prediction for latents [B, C, h, w] at one timestep, conditioned on hidden states [B, L, H]. */
  predict(latents: Float32Array, dims: number[], timestep: number, hidden: Float32Array, hiddenDims: number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** The UNet's timestep input: int64/int32/float [B], or a float scalar (Optimum 1.24+). */
function timestepFeed(type: number, scalar: boolean, t: number, batch: number): { data: HostArray; dims: number[] } {
  if (scalar) {
    if (type !== DataType.FLOAT) throw new GenerationModelError("a scalar UNet timestep must be float32");
    return { data: Float32Array.of(t), dims: [] };
  }
  switch (type) {
    case DataType.INT64: return { data: new BigInt64Array(batch).fill(BigInt(Math.trunc(t))), dims: [batch] };
    case DataType.INT32: return { data: new Int32Array(batch).fill(Math.trunc(t)), dims: [batch] };
    case DataType.FLOAT: return { data: new Float32Array(batch).fill(t), dims: [batch] };
    default: throw new GenerationModelError(`unsupported UNet timestep type ${type}`);
  }
}

export async function openDenoiser(folder: ModelFolder, sessions: ModelRunOptions): Promise<Denoiser> {
  const graph = readModelFile(folder.unet).graph;
  const input = graph.inputs.find((i) => i.name === "timestep");
  if (!input || !graph.inputs.some((i) => i.name === "sample") || !graph.inputs.some((i) => i.name === "encoder_hidden_states")) {
    throw new GenerationModelError(`${folder.unet} must take sample, timestep and encoder_hidden_states (inputs: ${graph.inputs.map((i) => i.name).join(", ")})`);
  }
  const scalar = input.shape !== undefined && input.shape.length === 0;
  const output = graph.outputs[0]!.name;
  const session = await ModelSession.fromFile(folder.unet, sessions);
  return {
    async predict(latents, dims, timestep, hidden, hiddenDims) {
      const out = await session.run(
        {
          sample: { data: latents, dims },
          timestep: timestepFeed(input.dataType, scalar, timestep, dims[0]!),
          encoder_hidden_states: { data: hidden, dims: hiddenDims },
        },
        [output],
      );
      return out[output]!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

export interface LatentDecoder {
  /** Latents [B, C, h, w] already divided by the scaling factor -> images [B, 3, H, W] in about [-1, 1]. */
  decode(latents: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release(): Promise<void>;
}

export async function openLatentDecoder(folder: ModelFolder, sessions: ModelRunOptions): Promise<LatentDecoder> {
  const session = await ModelSession.fromFile(folder.vaeDecoder, sessions);
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  return {
    async decode(latents, dims) {
      const out = (await session.run({ [input]: { data: latents, dims } }, [output]))[output]!;
      return { data: out.data as Float32Array, dims: out.dims };
    },
    release: () => session.release(),
  };
}
