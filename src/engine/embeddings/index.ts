export {
  A1111_TENSOR_NAME,
  decodeEmbedding,
  type DecodedEmbedding,
  type DecodeOptions,
  type EmbeddingFormat,
  EmbeddingFormatError,
  encodeA1111Embedding,
  encodeDiffusersEmbedding,
  type LearnedEmbedding,
} from "./formats.js";
export { readEmbeddingFile, writeA1111EmbeddingFile, writeDiffusersEmbeddingFile } from "./files.js";
export { bfloat16ToFloat, halfToFloat } from "./half.js";
