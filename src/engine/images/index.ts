export { type ImageErrorCode, ImageInputError } from "./errors.js";
export { checkImageCount, DEFAULT_MAX_IMAGES, DEFAULT_MIN_IMAGES, type ImageLoadOptions, type ResolvedImageOptions, resolveImageOptions, type RgbColour } from "./options.js";
export { inspectTrainingImage, prepareTrainingImage, type TrainingImage, type TrainingImageFormat } from "./prepare.js";
export { type ImageUpload, loadTrainingImages, prepareTrainingImages, resolveImageFiles } from "./load.js";
export { flipHorizontalChw, rgbToChw } from "./tensor.js";
