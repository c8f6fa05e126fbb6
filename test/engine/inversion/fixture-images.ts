/** Three small, different PNG training images for the tiny pipelines (64 px models; 80x72 sources). */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";

export async function writeTrainingImages(count = 3): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dvar-images-"));
  for (let k = 0; k < count; k++) {
    const w = 80, h = 72;
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data.set([(x * 3 + k * 50) % 256, (y * 3) % 256, ((x + y) * (k + 1) * 7) % 256], 3 * (y * w + x));
    }
    await writeFile(join(dir, `img${k}.png`), await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  }
  return dir;
}
