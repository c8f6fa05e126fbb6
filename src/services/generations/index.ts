export {
  GENERATION_ID_PATTERN,
  GENERATION_STATUSES,
  MAX_GENERATION_IMAGES,
  MAX_GENERATION_STEPS,
  SCHEDULERS,
  generationImageKey,
  generationRecordKey,
  type GenerationRecord,
  type GenerationStatus,
  type Scheduler,
} from "./generation-record.js";
export { GenerationStore, type VersionedGeneration } from "./generation-store.js";
export { GenerationConflictError, GenerationInputError, InversionNotFoundError } from "./errors.js";
export { GenerationService, type GenerationServiceDeps } from "./generation-service.js";
export { describeGeneration, generationImagePath } from "./generation-view.js";
export { cachedImageGenerator, perCallImageGenerator, type ImageGenerator, type ImageGeneratorOptions } from "./image-generator.js";
