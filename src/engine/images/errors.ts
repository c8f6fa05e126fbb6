/** Why a set of training images was refused. */
export type ImageErrorCode =
  | "not_found"
  | "unreadable"
  | "unsupported_format"
  | "too_small"
  | "too_large_bytes"
  | "too_large_pixels"
  | "too_many"
  | "too_few"
  | "duplicate"
  | "bad_option";

/** A refused input; `file` names the image (path or upload name) when one is at fault. */
export class ImageInputError extends Error {
  override name = "ImageInputError";
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(file === undefined ? message : `${file}: ${message}`);
  }
}
