/**
 * Training captions for textual inversion: the two template lists of diffusers'
 * examples/textual_inversion/textual_inversion.py (`imagenet_templates_small` for
 * objects, `imagenet_style_templates_small` for styles), in the same order and with the
 * same duplicates, because both the training draw (a uniform template index) and the
 * DVAR eval batch (template i mod count) index into them.
 */

export type LearnableProperty = "object" | "style";

export const OBJECT_TEMPLATES: readonly string[] = Object.freeze([
  "a photo of a {}",
  "a rendering of a {}",
  "a cropped photo of the {}",
  "the photo of a {}",
  "a photo of a clean {}",
  "a photo of a dirty {}",
  "a dark photo of the {}",
  "a photo of my {}",
  "a photo of the cool {}",
  "a close-up photo of a {}",
  "a bright photo of the {}",
  "a cropped photo of a {}",
  "a photo of the {}",
  "a good photo of the {}",
  "a photo of one {}",
  "a close-up photo of the {}",
  "a rendition of the {}",
  "a photo of the clean {}",
  "a rendition of a {}",
  "a photo of a nice {}",
  "a good photo of a {}",
  "a photo of the nice {}",
  "a photo of the small {}",
  "a photo of the weird {}",
  "a photo of the large {}",
  "a photo of a cool {}",
  "a photo of a small {}",
]);

// "a cropped painting ..." and "a close-up painting ..." appear twice, as in diffusers.
export const STYLE_TEMPLATES: readonly string[] = Object.freeze([
  "a painting in the style of {}",
  "a rendering in the style of {}",
  "a cropped painting in the style of {}",
  "the painting in the style of {}",
  "a clean painting in the style of {}",
  "a dirty painting in the style of {}",
  "a dark painting in the style of {}",
  "a picture in the style of {}",
  "a cool painting in the style of {}",
  "a close-up painting in the style of {}",
  "a bright painting in the style of {}",
  "a cropped painting in the style of {}",
  "a good painting in the style of {}",
  "a close-up painting in the style of {}",
  "a rendition in the style of {}",
  "a nice painting in the style of {}",
  "a small painting in the style of {}",
  "a weird painting in the style of {}",
  "a large painting in the style of {}",
]);

export class CaptionError extends Error {
  override name = "CaptionError";
}

export function templatesFor(property: LearnableProperty): readonly string[] {
  if (property === "object") return OBJECT_TEMPLATES;
  if (property === "style") return STYLE_TEMPLATES;
  throw new CaptionError(`learnable property must be "object" or "style", got ${JSON.stringify(property)}`);
}

/**
 * The text that stands for the concept in a caption: the k placeholder tokens joined by
 * spaces ("<tok> <tok>_1 <tok>_2"), as diffusers passes them to its dataset.
 */
export function placeholderString(placeholderTokens: readonly string[]): string {
  if (placeholderTokens.length === 0) throw new CaptionError("at least one placeholder token is needed");
  return placeholderTokens.join(" ");
}

/** All captions for a learnable property, in template order, with the concept substituted. */
export function captionsFor(property: LearnableProperty, placeholderTokens: readonly string[]): string[] {
  const concept = placeholderString(placeholderTokens);
  // split/join rather than String.replace: a "$&" in a placeholder must stay literal.
  return templatesFor(property).map((template) => template.split("{}").join(concept));
}
