/** PNG files of generated images (sharp). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import type { GeneratedImage } from "./pipeline.js";

export async function pngBytes(image: GeneratedImage): Promise<Buffer> {
  return sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** Writes `image-<i>-seed-<seed>.png` for each image; returns the paths. */
export async function writePngs(dir: string, images: readonly GeneratedImage[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [i, image] of images.entries()) {
    const path = join(dir, `image-${i}-seed-${image.seed}.png`);
    await writeFile(path, await pngBytes(image));
    paths.push(path);
  }
  return paths;
}
