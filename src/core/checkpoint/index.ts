/** Checkpoints of inversion runs: the whole state in one safetensors file. */
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointErrorCode,
  type DecodeCheckpointOptions,
} from "./codec.js";
