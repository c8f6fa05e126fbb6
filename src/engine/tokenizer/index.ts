export { CLIP_MAX_MERGES, CLIP_WORD_PATTERN, clipTokenizerJson, parseMerges, TokenizerFilesError } from "./clip-json.js";
export { ClipTokenizer, type ClipTokenizerFiles, type EncodedPrompt, TokenizerError } from "./clip-tokenizer.js";
export {
  initializerFromRandomToken,
  initializerFromWord,
  type InitializerSpec,
  type InitializerToken,
  resolveInitializer,
} from "./initializer.js";
export { loadClipTokenizer } from "./load.js";
export { addPlaceholder, MAX_VECTORS, type Placeholder, placeholderTokenNames } from "./placeholders.js";
