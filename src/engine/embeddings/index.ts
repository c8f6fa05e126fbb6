export { A1111_FALLBACK_NAME, a1111EmbeddingName } from "./a1111-name.js";
export {
  A1111_TENSOR_NAME,
  decodeEmbedding,
  type DecodedEmbedding,
  type DecodeOptions,
  type EmbeddingFormat,
  EmbeddingFormatError,
  encodeA1111Embedding,
  encodeA1111PtEmbedding,
  encodeDiffusersEmbedding,
  type LearnedEmbedding,
} from "./formats.js";
export { readEmbeddingFile, writeA1111EmbeddingFile, writeA1111PtEmbeddingFile, writeDiffusersEmbeddingFile } from "./files.js";
export { bfloat16ToFloat, halfToFloat } from "./half.js";
