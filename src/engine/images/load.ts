/** Training images from uploads (bytes) or from the file system (paths and folders). */
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { ImageInputError } from "./errors.js";
import { checkImageCount, type ImageLoadOptions, resolveImageOptions } from "./options.js";
import { prepareTrainingImage, type TrainingImage } from "./prepare.js";

export interface ImageUpload {
  name: string;
  bytes: Uint8Array;
}

/** Decodes uploads in order, after checking their number. */
export async function prepareTrainingImages(uploads: readonly ImageUpload[], options: ImageLoadOptions): Promise<TrainingImage[]> {
  const resolved = resolveImageOptions(options);
  checkImageCount(uploads.length, resolved);
  const names = new Set<string>();
  for (const u of uploads) {
    if (names.has(u.name)) throw new ImageInputError("duplicate", "given twice", u.name);
    names.add(u.name);
  }
  const images: TrainingImage[] = [];
  for (const u of uploads) images.push(await prepareTrainingImage(u.name, u.bytes, resolved));
  return images;
}

const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([".jpg", ".jpeg", ".png", ".webp"]);

/**
 * The image files named by `inputs`: a folder contributes its .jpg/.jpeg/.png/.webp files
 * (not hidden ones, not subfolders) sorted by name, as DVAR indexes sorted file names; a
 * file is taken as given, whatever its extension (its content decides).
 */
export async function resolveImageFiles(inputs: string | readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of typeof inputs === "string" ? [inputs] : inputs) {
    let info;
    try {
      info = await stat(input);
    } catch {
      throw new ImageInputError("not_found", "no such file or folder", input);
    }
    if (info.isDirectory()) {
      const entries = await readdir(input, { withFileTypes: true });
      const names = entries
        .filter((e) => e.isFile() && !e.name.startsWith(".") && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
        .map((e) => e.name)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // code-unit order, locale-independent
      files.push(...names.map((n) => join(input, n)));
    } else if (info.isFile()) {
      files.push(input);
    } else {
      throw new ImageInputError("unreadable", "not a regular file or folder", input);
    }
  }
  return files;
}

/** Resolves, checks counts and sizes before reading, then decodes each file. */
export async function loadTrainingImages(inputs: string | readonly string[], options: ImageLoadOptions): Promise<TrainingImage[]> {
  const resolved = resolveImageOptions(options);
  const files = await resolveImageFiles(inputs);
  checkImageCount(files.length, resolved);
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file)) throw new ImageInputError("duplicate", "given twice", file);
    seen.add(file);
    const { size } = await stat(file);
    if (size > resolved.maxBytes) throw new ImageInputError("too_large_bytes", `${size} bytes exceeds the limit of ${resolved.maxBytes}`, file);
  }
  const images: TrainingImage[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new ImageInputError("unreadable", `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, file);
    }
    images.push(await prepareTrainingImage(file, bytes, resolved));
  }
  return images;
}
