/**
 * End to end against PyTorch autograd: the committed tiny pipelines (tools/ti-reference)
 * are compiled, run in onnxruntime (float32) and compared with float64 autograd results
 * computed from the same weights. Required: loss relative error <= 1e-5, gradient
 * relative L2 error <= 1e-4, per-sample eval losses relative error <= 1e-5.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, type Tensor } from "../../../src/core/io/safetensors.js";
import { compileTextualInversion } from "../../../src/graph/textual-inversion/compile.js";
import { ModelSession, type HostTensor } from "../../../src/runtime/session.js";

const CASES = [
  { model: "tiny-sd-a", note: "opset 14, int32 ids, int64 timesteps, 3-D and 4-D attention, decomposed LayerNorm", k: 1, batch: 2 },
  { model: "tiny-sd-a", note: "opset 14", k: 2, batch: 3 },
  { model: "tiny-sd-b", note: "opset 17, int64 ids, float scalar timestep, Einsum attention, LayerNormalization, external data", k: 1, batch: 2 },
  { model: "tiny-sd-b", note: "opset 17", k: 2, batch: 3 },
];

const INPUTS = ["input_ids", "concept", "noisy_latents", "timesteps", "target"];

function feedsOf(ref: Record<string, Tensor>, names: readonly string[]): Record<string, HostTensor> {
  return Object.fromEntries(names.map((n) => [n, { data: ref[n]!.data as HostTensor["data"], dims: ref[n]!.shape }]));
}

function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe("textual-inversion graphs match PyTorch autograd", () => {
  for (const c of CASES) {
    it(`${c.model} k=${c.k} B=${c.batch} (${c.note})`, async () => {
      const root = `test/fixtures/${c.model}`;
      const ref = decodeSafetensors(fs.readFileSync(`${root}/references/k${c.k}-b${c.batch}.safetensors`)).tensors;
      const graphs = compileTextualInversion(root, { batch: c.batch, tokens: 77, concepts: c.k, latent: [4, 8, 8] }, null);
      const options = { threads: 1, externalDataDir: graphs.root };

      const step = await ModelSession.fromBytes(graphs.step, options);
      const out = await step.run(feedsOf(ref, INPUTS));
      await step.release();
      const expectedLoss = (ref.expected_loss!.data as Float64Array)[0]!;
      expect(Math.abs((out.loss!.data as Float32Array)[0]! - expectedLoss) / expectedLoss).toBeLessThanOrEqual(1e-5);
      expect(out.grad!.dims).toEqual([c.k, ref.concept!.shape[1]]);
      expect(relativeL2(out.grad!.data as Float32Array, ref.expected_grad!.data as Float64Array)).toBeLessThanOrEqual(1e-4);

      const evaluate = await ModelSession.fromBytes(graphs.eval, options);
      const evalOut = await evaluate.run(feedsOf(ref, evaluate.inputNames));
      await evaluate.release();
      expect(evalOut.grad).toBeUndefined();
      const perSample = ref.expected_sample_losses!.data as Float64Array;
      expect(relativeL2(evalOut.sample_losses!.data as Float32Array, perSample)).toBeLessThanOrEqual(1e-5);
      expect(Math.abs((evalOut.loss!.data as Float32Array)[0]! - expectedLoss) / expectedLoss).toBeLessThanOrEqual(1e-5);
    });
  }
});
