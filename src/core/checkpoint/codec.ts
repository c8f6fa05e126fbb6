/**
 * The checkpoint of an inversion: the whole state in ONE safetensors file.
 *
 *   tensors   params (F32), best.params (F32, once a best exists), optimizer.<buffer> (F32),
 *             history.<series> (F64, one value per completed update)
 *   metadata  format, format_version, config (canonical JSON), config_hash, state (JSON:
 *             step, seed, optimizer name and step, criterion state, best step and L_det,
 *             final outcome), checksum (SHA-256 of the file written without it)
 *
 * Floats are stored bit-exactly (typed arrays as raw bytes, JSON numbers with special
 * values tagged), so a resumed run continues exactly. Decoding checks everything before
 * it returns anything: a file is either wholly accepted or refused with a CheckpointError.
 */
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from "../io/safetensors.js";
import { configHash, parseInversionConfig, type InversionConfig } from "../inversion/config.js";
import { createOptimizer } from "../optim/index.js";
import { HISTORY_KEYS, type InversionHistory, type InversionState } from "../inversion/state.js";
import { createCriterion } from "../stopping/index.js";
import { parseExact, stringifyExact } from "../io/exact-json.js";
import { sha256Hex } from "../io/sha256.js";
import { stateMetadataSchema, type StateMetadata } from "./state-metadata.js";

export const CHECKPOINT_FORMAT = "dvar-inversion-checkpoint";
export const CHECKPOINT_VERSION = 1;

export type CheckpointErrorCode =
  /** Not a readable safetensors file: truncated, garbled header, trailing bytes. */
  | "malformed"
  /** A safetensors file, but not an inversion checkpoint. */
  | "not_checkpoint"
  /** A checkpoint of another format version. */
  | "version"
  /** Content does not match its checksum (corrupted). */
  | "checksum"
  /** The stored config does not hash to the stored config hash. */
  | "config_hash"
  /** A valid checkpoint of a different configuration than the caller expects. */
  | "config_mismatch"
  /** Internally inconsistent state (wrong lengths, unknown buffers, invalid values). */
  | "invalid_state";

export class CheckpointError extends Error {
  override name = "CheckpointError";
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(`checkpoint refused (${code}): ${message}`);
  }
}

const historyTensorName = (key: keyof InversionHistory) => `history.${key}`;

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]!]));
}

/** SHA-256 of the file as it would be written without its checksum. */
function contentChecksum(tensors: Record<string, Tensor>, metadata: Record<string, string>): string {
  const { checksum: _ignored, ...rest } = metadata;
  return sha256Hex(encodeSafetensors(tensors, sortedRecord(rest)));
}

export function encodeCheckpoint(state: InversionState): Uint8Array {
  const n = state.params.length;
  const tensors: Record<string, Tensor> = { params: { dtype: "F32", shape: [n], data: state.params } };
  if (state.best) tensors["best.params"] = { dtype: "F32", shape: [n], data: state.best.params };
  const bufferNames = Object.keys(state.optimizer.state.buffers).sort();
  for (const name of bufferNames) {
    const data = state.optimizer.state.buffers[name]!;
    tensors[`optimizer.${name}`] = { dtype: "F32", shape: [data.length], data };
  }
  for (const key of HISTORY_KEYS) {
    tensors[historyTensorName(key)] = { dtype: "F64", shape: [state.history[key].length], data: Float64Array.from(state.history[key]) };
  }
  const stateMetadata: StateMetadata = {
    step: state.step,
    seed: state.config.seed,
    optimizer: { name: state.optimizer.name, step: state.optimizer.state.step, buffers: bufferNames },
    criterion: state.criterion,
    best: state.best ? { step: state.best.step, ldet: state.best.ldet } : null,
    finished: state.finished,
  };
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    config: stringifyExact(state.config),
    config_hash: configHash(state.config),
    state: stringifyExact(stateMetadata),
  };
  metadata.checksum = contentChecksum(tensors, metadata);
  return encodeSafetensors(tensors, sortedRecord(metadata));
}

export interface DecodeCheckpointOptions {
  /** Refuse a checkpoint of any other configuration (hash from `configHash`). */
  expectedConfigHash?: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function f32Tensor(tensors: Record<string, Tensor>, name: string, length: number): Float32Array {
  const t = tensors[name];
  if (!t) throw new CheckpointError("invalid_state", `tensor '${name}' is missing`);
  if (t.dtype !== "F32" || t.shape.length !== 1 || t.shape[0] !== length) {
    throw new CheckpointError("invalid_state", `tensor '${name}' is ${t.dtype}[${t.shape}], expected F32[${length}]`);
  }
  return t.data as Float32Array;
}

export function decodeCheckpoint(bytes: Uint8Array, options: DecodeCheckpointOptions = {}): InversionState {
  // 1. A complete safetensors file.
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new CheckpointError("malformed", `truncated or not a safetensors file: ${error.message}`);
    throw error;
  }
  const { tensors, metadata } = decoded;

  // 2. Our format, our version, intact content, in exactly the form we write.
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError("not_checkpoint", `metadata 'format' is ${JSON.stringify(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
  }
  if (metadata.format_version !== String(CHECKPOINT_VERSION)) {
    throw new CheckpointError("version", `format version ${metadata.format_version}, this build reads version ${CHECKPOINT_VERSION}`);
  }
  if (metadata.checksum !== contentChecksum(tensors, metadata)) {
    throw new CheckpointError("checksum", "content does not match the stored SHA-256 checksum (corrupted file)");
  }
  if (!sameBytes(encodeSafetensors(tensors, sortedRecord(metadata)), bytes)) {
    throw new CheckpointError("malformed", "the file has extra or rearranged bytes");
  }

  // 3. The config it was made with.
  let config: InversionConfig;
  try {
    config = parseInversionConfig(parseExact(metadata.config ?? ""));
  } catch (error) {
    throw new CheckpointError("invalid_state", `stored config: ${(error as Error).message}`);
  }
  const hash = configHash(config);
  if (metadata.config_hash !== hash) {
    throw new CheckpointError("config_hash", `stored config hashes to ${hash}, the checkpoint says ${metadata.config_hash}`);
  }
  if (options.expectedConfigHash !== undefined && options.expectedConfigHash !== hash) {
    throw new CheckpointError("config_mismatch", `checkpoint config hash ${hash} differs from the expected ${options.expectedConfigHash}`);
  }
  return assembleState(config, tensors, metadata.state ?? "");
}

function assembleState(config: InversionConfig, tensors: Record<string, Tensor>, stateJson: string): InversionState {
  let meta: StateMetadata;
  let criterionState;
  try {
    meta = stateMetadataSchema.parse(parseExact(stateJson));
    criterionState = createCriterion(config.stop).parseState(meta.criterion);
  } catch (error) {
    throw new CheckpointError("invalid_state", `stored state: ${(error as Error).message}`);
  }
  if (meta.seed !== config.seed) throw new CheckpointError("invalid_state", `state seed ${meta.seed} differs from config seed ${config.seed}`);
  if (meta.step > config.maxSteps) throw new CheckpointError("invalid_state", `step ${meta.step} exceeds maxSteps ${config.maxSteps}`);
  const paramsTensor = tensors.params;
  const n = paramsTensor?.shape[0] ?? 0;
  const params = f32Tensor(tensors, "params", n);
  if (n === 0) throw new CheckpointError("invalid_state", "tensor 'params' is empty");

  const optimizer = createOptimizer(config.optimizer);
  const expectedBuffers = Object.keys(optimizer.init(0).buffers).sort();
  if (meta.optimizer.name !== optimizer.name || stringifyExact(meta.optimizer.buffers) !== stringifyExact(expectedBuffers)) {
    throw new CheckpointError(
      "invalid_state",
      `optimizer '${meta.optimizer.name}' with buffers [${meta.optimizer.buffers}], config expects '${optimizer.name}' with [${expectedBuffers}]`,
    );
  }
  const buffers = Object.fromEntries(expectedBuffers.map((name) => [name, f32Tensor(tensors, `optimizer.${name}`, n)]));

  const history = {} as InversionHistory;
  for (const key of HISTORY_KEYS) {
    const t = tensors[historyTensorName(key)];
    if (!t || t.dtype !== "F64" || t.shape.length !== 1 || t.shape[0] !== meta.step) {
      throw new CheckpointError("invalid_state", `tensor '${historyTensorName(key)}' must be F64[${meta.step}]`);
    }
    history[key] = Array.from(t.data as Float64Array);
  }

  let best = null;
  if (meta.best) {
    if (meta.best.step > meta.step) throw new CheckpointError("invalid_state", `best step ${meta.best.step} is after step ${meta.step}`);
    best = { step: meta.best.step, ldet: meta.best.ldet, params: f32Tensor(tensors, "best.params", n) };
  } else if (tensors["best.params"]) {
    throw new CheckpointError("invalid_state", "tensor 'best.params' without a best step");
  }
  const known = new Set(["params", "best.params", ...expectedBuffers.map((b) => `optimizer.${b}`), ...HISTORY_KEYS.map(historyTensorName)]);
  const unknown = Object.keys(tensors).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new CheckpointError("invalid_state", `unknown tensors ${unknown.join(", ")}`);

  return {
    config,
    step: meta.step,
    params,
    optimizer: { name: optimizer.name, state: { step: meta.optimizer.step, buffers } },
    criterion: criterionState,
    best,
    history,
    finished: meta.finished,
  };
}
