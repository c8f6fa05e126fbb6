/**
 * The model folder's image scorer (`image_encoder/model.onnx`: pixel_values [B, 3, S, S]
 * in [-1, 1] -> image_embeds [B, D]), the stand-in for CLIP image similarity in the
 * paper's reconstruction score: the mean cosine similarity over all pairs of
 * (generated, reference) image embeddings.
 */
import { ModelSession } from "../../runtime/session.js";
import type { GeneratedImage } from "../generate/pipeline.js";
import type { ModelFolder } from "../model/folder.js";

export class ScorerError extends Error {
  override name = "ScorerError";
}

export interface ImageScorer {
  /** Embeddings of CHW float images in [-1, 1] at the model resolution, one row each. */
  embed(images: readonly Float32Array[]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

/** 8-bit RGB (as generated and saved) -> CHW float in [-1, 1], as training images are scaled. */
export function rgbToUnitChw(image: GeneratedImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = image.rgb[3 * i + c]! / 127.5 - 1;
  return out;
}

export async function openImageScorer(folder: ModelFolder, threads = 0): Promise<ImageScorer> {
  if (!folder.imageEncoder) throw new ScorerError(`${folder.root} has no image_encoder/model.onnx: there is no image scorer`);
  const session = await ModelSession.fromFile(folder.imageEncoder, { threads });
  const input = session.inputNames[0]!;
  const output = session.outputNames.includes("image_embeds") ? "image_embeds" : session.outputNames[0]!;
  const side = folder.resolution;
  return {
    async embed(images) {
      if (images.length === 0) return [];
      const per = 3 * side * side;
      const batch = new Float32Array(images.length * per);
      images.forEach((image, i) => {
        if (image.length !== per) throw new ScorerError(`the scorer takes ${side}x${side} images (${per} values), got ${image.length} values`);
        batch.set(image, i * per);
      });
      const out = (await session.run({ [input]: { data: batch, dims: [images.length, 3, side, side] } }, [output]))[output]!;
      const d = out.data.length / images.length;
      return images.map((_, i) => (out.data as Float32Array).slice(i * d, (i + 1) * d));
    },
    release: () => session.release(),
  };
}

/** Mean cosine similarity over all pairs (a_i, b_j). */
export function meanPairwiseCosine(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  if (a.length === 0 || b.length === 0) throw new ScorerError("scoring needs at least one embedding on each side");
  const unit = (v: Float32Array) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    return Float64Array.from(v, (x) => x / norm);
  };
  const ua = a.map(unit), ub = b.map(unit);
  let sum = 0;
  for (const x of ua) {
    for (const y of ub) {
      if (x.length !== y.length) throw new ScorerError(`embeddings of different widths (${x.length}, ${y.length})`);
      let dot = 0;
      for (let i = 0; i < x.length; i++) dot += x[i]! * y[i]!;
      sum += dot;
    }
  }
  return sum / (ua.length * ub.length);
}
