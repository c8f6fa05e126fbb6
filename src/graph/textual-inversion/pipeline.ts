/**
 * Reads the two models textual inversion trains through from a Stable Diffusion
 * pipeline in the Optimum ONNX layout (text_encoder/model.onnx, unet/model.onnx).
 * Weights stay on disk: see ../onnx/model-file.ts and ../onnx/codec.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readModelFile } from "../onnx/model-file.js";
import { OnnxModelError, type Model } from "../onnx/ir.js";

export interface PipelineModels {
  /** Absolute path of the pipeline folder (external-data locations are written relative to it). */
  root: string;
  textEncoder: Model;
  unet: Model;
}

export function readPipeline(folder: string): PipelineModels {
  const root = path.resolve(folder);
  const files = ["text_encoder", "unet"].map((sub) => path.join(root, sub, "model.onnx"));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new OnnxModelError(`${f} not found: expected a Stable Diffusion pipeline in the Optimum ONNX layout`);
  }
  const [textEncoder, unet] = files.map((f) => readModelFile(f));
  return { root, textEncoder: textEncoder!, unet: unet! };
}
