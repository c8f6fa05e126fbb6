/**
 * Opset 18 moved the axes of ReduceMean (and the other reductions but ReduceSum) from an
 * attribute to an input. torch 1.13 cannot export opset 18, so the opset-14 fixture is
 * converted here (every other op it uses means the same at 18) and must still match the
 * PyTorch references: decomposed LayerNorm puts ReduceMean-with-axes-input on the gradient path.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { makeTensor } from "../../../src/graph/onnx/builder.js";
import { encodeModel } from "../../../src/graph/onnx/codec.js";
import { DataType, type Model } from "../../../src/graph/onnx/ir.js";
import { buildGraphs } from "../../../src/graph/textual-inversion/compile.js";
import { joinForTextualInversion } from "../../../src/graph/textual-inversion/join.js";
import { readPipeline } from "../../../src/graph/textual-inversion/pipeline.js";
import { ModelSession, type HostTensor } from "../../../src/runtime/session.js";

const MOVED_AT_18 = new Set(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);

/** Returns how many nodes were rewritten. */
function toOpset18(model: Model): number {
  let moved = 0;
  model.opsets[""] = 18;
  for (const node of model.graph.nodes) {
    const axes = node.attributes.axes;
    if (!MOVED_AT_18.has(node.opType) || axes?.type !== "ints") continue;
    const name = `${node.name}_axes`;
    model.graph.initializers.push(makeTensor(name, DataType.INT64, [axes.value.length], axes.value));
    node.inputs = [node.inputs[0]!, name];
    delete node.attributes.axes;
    moved++;
  }
  return moved;
}

describe("opset 18 (axes as inputs)", () => {
  it("tiny-sd-a converted to opset 18 matches the PyTorch reference", async () => {
    const p = readPipeline("test/fixtures/tiny-sd-a");
    expect(toOpset18(p.textEncoder)).toBeGreaterThan(0);
    expect(toOpset18(p.unet)).toBeGreaterThan(0);
    const { step, eval: evalModel } = buildGraphs(joinForTextualInversion(p.textEncoder, p.unet), { batch: 3, tokens: 77, concepts: 2, latent: [4, 8, 8] });
    expect(step.opsets[""]).toBe(18);
    const ref = decodeSafetensors(fs.readFileSync("test/fixtures/tiny-sd-a/references/k2-b3.safetensors")).tensors;
    const session = await ModelSession.fromBytes(encodeModel(step, { externalDataDir: p.root }), { threads: 1, externalDataDir: p.root });
    const feeds = Object.fromEntries(["input_ids", "concept", "noisy_latents", "timesteps", "target"].map((n) => [n, { data: ref[n]!.data as HostTensor["data"], dims: ref[n]!.shape }]));
    const out = await session.run(feeds);
    await session.release();
    const expectedLoss = (ref.expected_loss!.data as Float64Array)[0]!;
    expect(Math.abs((out.loss!.data as Float32Array)[0]! - expectedLoss) / expectedLoss).toBeLessThanOrEqual(1e-5);
    const g = out.grad!.data as Float32Array, e = ref.expected_grad!.data as Float64Array;
    const err = Math.sqrt(e.reduce((s, v, i) => s + (g[i]! - v) ** 2, 0) / e.reduce((s, v) => s + v * v, 0));
    expect(err).toBeLessThanOrEqual(1e-4);

    const evaluate = await ModelSession.fromBytes(encodeModel(evalModel, { externalDataDir: p.root }), { threads: 1, externalDataDir: p.root });
    const perSample = (await evaluate.run(feeds)).sample_losses!.data as Float32Array;
    await evaluate.release();
    const expected = ref.expected_sample_losses!.data as Float64Array;
    expected.forEach((v, i) => expect(Math.abs(perSample[i]! - v) / v).toBeLessThan(1e-5));
  });
});
