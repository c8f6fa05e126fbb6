/**
 * Textual-inversion embedding files, as bytes (no file system here).
 *
 * Written:
 * - diffusers `learned_embeds.safetensors`: one tensor named after the placeholder token,
 *   F32 [k, H], metadata {"format": "pt"} (what textual_inversion.py's save_progress writes
 *   and `load_textual_inversion` reads).
 * - AUTOMATIC1111-readable safetensors: one tensor "emb_params", F32 [k, H]. A1111 loads a
 *   safetensors file with exactly one tensor as a "diffuser concept" and names the
 *   embedding after the file, so the prompt word is the file name. The name and step go
 *   into the metadata, which A1111 ignores and `decodeEmbedding` reads back.
 * - A1111's own `.pt`: torch.save of {"string_to_param": {"*": F32 [k, H]}, "name", "step",
 *   ...}, written and read without Python by torch-pt.ts (a ZIP and a restricted pickle
 *   reader that executes nothing).
 *
 * Read: all of the above, kohya's SD 1.x/2.x files ({"emb_params": [k, H]}, safetensors or
 * .pt), diffusers' {token: tensor} in a .pt/.bin torch archive, 1-D [H] tensors (older
 * diffusers files), F16/BF16/F64 data widened or narrowed to F32. SDXL files ({"clip_l",
 * "clip_g"}) and torch's legacy pre-1.6 (non-ZIP) pickles are refused.
 */
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from "../../core/io/safetensors.js";
import { widenBF16, widenF16 } from "./half.js";
import { encodeA1111Pt, isPtTensor, type PtTensor, readTorchPt, TorchPtError } from "./torch-pt.js";

/** k learned vectors of width H, row-major, and the word that selects them. */
export interface LearnedEmbedding {
  /** The placeholder token (diffusers) or embedding name (A1111: the file name). */
  token: string;
  numVectors: number;
  hiddenSize: number;
  /** numVectors * hiddenSize values, vector after vector. */
  vectors: Float32Array;
  /** Optimisation step the vectors come from, where known. */
  step?: number;
}

export type EmbeddingFormat = "diffusers" | "a1111";

export interface DecodedEmbedding {
  embedding: LearnedEmbedding;
  /** "a1111" for {"emb_params"} files (A1111 and kohya), "diffusers" for {token: tensor}. */
  format: EmbeddingFormat;
}

export class EmbeddingFormatError extends Error {
  override name = "EmbeddingFormatError";
}

/** The tensor name A1111-readable and kohya SD 1.x/2.x files use. */
export const A1111_TENSOR_NAME = "emb_params";

function checkEmbedding(e: LearnedEmbedding): void {
  if (typeof e.token !== "string" || e.token.length === 0) throw new EmbeddingFormatError("embedding token must be a non-empty string");
  for (const [field, value] of [["numVectors", e.numVectors], ["hiddenSize", e.hiddenSize]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new EmbeddingFormatError(`embedding '${e.token}': ${field} must be a positive integer, got ${value}`);
  }
  if (!(e.vectors instanceof Float32Array) || e.vectors.length !== e.numVectors * e.hiddenSize) {
    throw new EmbeddingFormatError(
      `embedding '${e.token}': needs ${e.numVectors} x ${e.hiddenSize} float32 values, got ${e.vectors?.length ?? "none"}`,
    );
  }
  if (!e.vectors.every(Number.isFinite)) throw new EmbeddingFormatError(`embedding '${e.token}': vectors hold NaN or infinite values`);
  if (e.step !== undefined && (!Number.isSafeInteger(e.step) || e.step < 0)) {
    throw new EmbeddingFormatError(`embedding '${e.token}': step must be a non-negative integer, got ${e.step}`);
  }
}

function matrix(e: LearnedEmbedding): Tensor {
  return { dtype: "F32", shape: [e.numVectors, e.hiddenSize], data: e.vectors };
}

/** diffusers' `learned_embeds.safetensors`: {token: F32 [k, H]}, metadata {"format": "pt"}. */
export function encodeDiffusersEmbedding(e: LearnedEmbedding): Uint8Array {
  checkEmbedding(e);
  if (e.token === "__metadata__") throw new EmbeddingFormatError("'__metadata__' cannot be a token name in safetensors");
  return encodeSafetensors({ [e.token]: matrix(e) }, { format: "pt" });
}

/** A1111-readable safetensors: {"emb_params": F32 [k, H]}; name and step in the metadata. */
export function encodeA1111Embedding(e: LearnedEmbedding): Uint8Array {
  checkEmbedding(e);
  const metadata: Record<string, string> = { format: "pt", name: e.token };
  if (e.step !== undefined) metadata.step = String(e.step);
  return encodeSafetensors({ [A1111_TENSOR_NAME]: matrix(e) }, metadata);
}

/** A1111's own `.pt` (torch.save of {"string_to_param": {"*": F32 [k, H]}, "name", "step", ...}). */
export function encodeA1111PtEmbedding(e: LearnedEmbedding): Uint8Array {
  checkEmbedding(e);
  return encodeA1111Pt({ name: e.token, step: e.step ?? null, shape: [e.numVectors, e.hiddenSize], vectors: e.vectors });
}

function toFloat32(name: string, t: Tensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      return t.data as Float32Array;
    case "F16":
      return widenF16(t.data as Uint16Array);
    case "BF16":
      return widenBF16(t.data as Uint16Array);
    case "F64":
      return Float32Array.from(t.data as Float64Array);
    default:
      throw new EmbeddingFormatError(`tensor '${name}' has dtype ${t.dtype}; an embedding must be floating point`);
  }
}

export interface DecodeOptions {
  /**
   * The word an {"emb_params"} file is called by. A1111 names an embedding after its file,
   * so readers of files pass the file name without extension; it wins over a metadata name.
   */
  a1111Name?: string;
  /** When given, a tensor of another width is refused (e.g. an SD 2.x embedding, H=1024, for SD 1.x, H=768). */
  expectedHiddenSize?: number;
}

/** Reads any supported embedding file (safetensors or torch .pt); throws EmbeddingFormatError saying what is wrong. */
export function decodeEmbedding(bytes: Uint8Array, options: DecodeOptions = {}): DecodedEmbedding {
  if (isTorchPt(bytes)) return decodeTorchPtEmbedding(bytes, options);
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new EmbeddingFormatError(`not a valid safetensors file: ${error.message}`);
    throw error;
  }
  const { tensors, metadata } = decoded;
  const names = Object.keys(tensors);
  refuseSdxl(names);
  if (names.length !== 1) {
    const list = names.length === 0 ? "none" : names.map((n) => `'${n}'`).join(", ");
    throw new EmbeddingFormatError(`an embedding file holds exactly one tensor; this one holds ${names.length} (${list})`);
  }
  const tensorName = names[0]!;
  const tensor = tensors[tensorName]!;
  const format: EmbeddingFormat = tensorName === A1111_TENSOR_NAME ? "a1111" : "diffusers";
  const step = metadata.step !== undefined && /^\d+$/.test(metadata.step) ? Number(metadata.step) : undefined;
  return embeddingFrom(tensorName, tensor.shape, () => toFloat32(tensorName, tensor), format, options, metadata.name, step);
}

function refuseSdxl(names: string[]): void {
  if (names.includes("clip_l") && names.includes("clip_g")) {
    throw new EmbeddingFormatError(
      "this is an SDXL embedding (tensors 'clip_l' and 'clip_g', one per text encoder); only SD 1.x/2.x embeddings (one text encoder) are supported",
    );
  }
}

/** Shape checks and naming shared by the safetensors and .pt readers. */
function embeddingFrom(
  tensorName: string,
  shape: readonly number[],
  values: () => Float32Array,
  format: EmbeddingFormat,
  options: DecodeOptions,
  storedName: string | undefined,
  step: number | undefined,
): DecodedEmbedding {
  let numVectors: number;
  let hiddenSize: number;
  if (shape.length === 1) [numVectors, hiddenSize] = [1, shape[0]!];
  else if (shape.length === 2) [numVectors, hiddenSize] = [shape[0]!, shape[1]!];
  else throw new EmbeddingFormatError(`tensor '${tensorName}' has shape [${shape}]; expected [k, H] or [H]`);
  if (numVectors < 1 || hiddenSize < 1) throw new EmbeddingFormatError(`tensor '${tensorName}' is empty (shape [${shape}])`);
  if (options.expectedHiddenSize !== undefined && hiddenSize !== options.expectedHiddenSize) {
    throw new EmbeddingFormatError(
      `embedding vectors have width ${hiddenSize}, the text encoder expects ${options.expectedHiddenSize} (made for another model family?)`,
    );
  }

  let token = tensorName;
  if (format === "a1111") {
    const name = options.a1111Name ?? storedName;
    if (name === undefined || name.length === 0) {
      throw new EmbeddingFormatError(`an '${tensorName}' embedding carries no name: pass the file name as a1111Name`);
    }
    token = name;
  }
  const embedding: LearnedEmbedding = { token, numVectors, hiddenSize, vectors: values() };
  if (step !== undefined) embedding.step = step;
  if (!embedding.vectors.every(Number.isFinite)) throw new EmbeddingFormatError(`tensor '${tensorName}' holds NaN or infinite values`);
  return { embedding, format };
}

/** torch.save archives start like any ZIP; legacy (pre-1.6) ones with a pickle's protocol-2 header. */
function isTorchPt(bytes: Uint8Array): boolean {
  return (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[0] === 0x80 && bytes[1] === 0x02);
}

/**
 * A1111's {"string_to_param": {"*": tensor}} (its own .pt), {"emb_params": tensor} (kohya and
 * other trainers' .pt) and {token: tensor} (diffusers' learned_embeds.bin).
 */
function decodeTorchPtEmbedding(bytes: Uint8Array, options: DecodeOptions): DecodedEmbedding {
  let root: unknown;
  try {
    root = readTorchPt(bytes);
  } catch (error) {
    if (error instanceof TorchPtError) throw new EmbeddingFormatError(`torch .pt file: ${error.message}`);
    throw error;
  }
  if (!(root instanceof Map)) throw new EmbeddingFormatError("torch .pt file does not hold a dict");
  const single = (dict: Map<unknown, unknown>, what: string): [string, PtTensor] => {
    const entries = [...dict.entries()].filter((entry): entry is [string, PtTensor] => typeof entry[0] === "string" && isPtTensor(entry[1]));
    if (entries.length !== 1 || dict.size !== 1) throw new EmbeddingFormatError(`${what} must hold exactly one tensor; it holds ${dict.size} entries`);
    return entries[0]!;
  };
  const name = typeof root.get("name") === "string" ? (root.get("name") as string) : undefined;
  const step = Number.isSafeInteger(root.get("step")) && (root.get("step") as number) >= 0 ? (root.get("step") as number) : undefined;
  let tensorName: string;
  let tensor: PtTensor;
  let format: EmbeddingFormat = "a1111";
  if (root.has("string_to_param")) {
    const params = root.get("string_to_param");
    if (!(params instanceof Map)) throw new EmbeddingFormatError("'string_to_param' is not a dict of tensors");
    [tensorName, tensor] = single(params, "'string_to_param'");
    tensorName = `string_to_param/${tensorName}`;
  } else if (isPtTensor(root.get(A1111_TENSOR_NAME))) {
    [tensorName, tensor] = [A1111_TENSOR_NAME, root.get(A1111_TENSOR_NAME) as PtTensor];
  } else {
    refuseSdxl([...root.keys()].map(String));
    [tensorName, tensor] = single(root, "a .pt embedding without 'string_to_param' or 'emb_params'");
    format = "diffusers";
  }
  return embeddingFrom(tensorName, tensor.shape, () => tensor.data, format, options, name, step);
}
