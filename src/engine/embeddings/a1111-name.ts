/**
 * The one rule that turns a placeholder token into an A1111 embedding's name. A1111 calls an
 * embedding by its file name without the extension, so the same name is used for the file
 * (`dvar invert`'s `<name>.safetensors` / `<name>.pt`, the API download's Content-Disposition
 * file name) and for the `name` written inside both A1111 files.
 *
 * Kept: ASCII letters, digits, `_` and `-`. Everything else is dropped:
 * - path separators, quotes, control characters and spaces (unsafe in a file name or a header);
 * - dots: A1111 and our reader take the name up to the last dot, other tools up to the first,
 *   and a leading dot hides the file or (`..`) names a directory, so `<my.cat>` is `mycat`;
 * - non-ASCII characters: Content-Disposition's `filename` parameter is ASCII, and one name
 *   everywhere matters more than keeping them (`<café>` is `caf`).
 * A token with nothing left is called `embedding`. Pure: the HTTP edge imports it too.
 */
export const A1111_FALLBACK_NAME = "embedding";

export function a1111EmbeddingName(token: string): string {
  const name = token.replace(/[^A-Za-z0-9_-]+/g, "");
  return name.length > 0 ? name : A1111_FALLBACK_NAME;
}
