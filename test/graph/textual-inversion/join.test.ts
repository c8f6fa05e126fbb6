import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildGraphs, compileTextualInversion } from "../../../src/graph/textual-inversion/compile.js";
import { joinForTextualInversion } from "../../../src/graph/textual-inversion/join.js";
import { readPipeline } from "../../../src/graph/textual-inversion/pipeline.js";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { makeTensor } from "../../../src/graph/onnx/builder.js";
import { encodeModel } from "../../../src/graph/onnx/codec.js";
import { DataType, type Model } from "../../../src/graph/onnx/ir.js";
import { ModelSession } from "../../../src/runtime/session.js";

const OPTIONS = { batch: 2, tokens: 77, concepts: 1, latent: [4, 8, 8] as [number, number, number] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dvar-join-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Relative error of the step graph's loss against a PyTorch reference file. */
async function lossError(step: Model, root: string, referenceFile: string, adapt = (r: Record<string, { data: unknown; shape: number[] }>) => r): Promise<number> {
  const ref = adapt(decodeSafetensors(fs.readFileSync(referenceFile)).tensors) as ReturnType<typeof decodeSafetensors>["tensors"];
  const session = await ModelSession.fromBytes(encodeModel(step, { externalDataDir: root }), { threads: 1, externalDataDir: root });
  const feeds = Object.fromEntries(["input_ids", "concept", "noisy_latents", "timesteps", "target"].map((n) => [n, { data: ref[n]!.data as Float32Array, dims: ref[n]!.shape }]));
  const out = await session.run(feeds);
  await session.release();
  const expected = (ref.expected_loss!.data as Float64Array)[0]!;
  return Math.abs((out.loss!.data as Float32Array)[0]! - expected) / expected;
}

describe("joining text encoder and UNet", () => {
  it("finds the token embedding table and the model's conventions", () => {
    const a = readPipeline("test/fixtures/tiny-sd-a"), b = readPipeline("test/fixtures/tiny-sd-b");
    expect(joinForTextualInversion(a.textEncoder, a.unet)).toMatchObject({ vocabSize: 100, hiddenSize: 32, idsType: 6, timestepType: 7 });
    expect(joinForTextualInversion(b.textEncoder, b.unet)).toMatchObject({ vocabSize: 120, hiddenSize: 48, idsType: 7, timestepType: 1 });
  });

  it("refuses UNets with inputs other than sample, timestep and encoder_hidden_states (e.g. SDXL)", () => {
    const p = readPipeline("test/fixtures/tiny-sd-b");
    p.unet.graph.inputs.push({ name: "text_embeds", dataType: 1, shape: ["batch", 8] });
    expect(() => joinForTextualInversion(p.textEncoder, p.unet)).toThrow(/unsupported model inputs .*UNet input 'text_embeds'/);
  });

  it("finds the lookup when the ids are reshaped first (transformers' input_ids.view(-1, L)), same numbers", async () => {
    const p = readPipeline("test/fixtures/tiny-sd-b");
    const g = p.textEncoder.graph;
    g.initializers.push(makeTensor("view_shape", DataType.INT64, [2], [-1, 77]));
    g.nodes.unshift({ name: "view", opType: "Reshape", domain: "", inputs: ["input_ids", "view_shape"], outputs: ["ids_view"], attributes: {} });
    for (const n of g.nodes.slice(1)) n.inputs = n.inputs.map((i) => (i === "input_ids" ? "ids_view" : i));
    const { step } = buildGraphs(joinForTextualInversion(p.textEncoder, p.unet), { ...OPTIONS, concepts: 2, batch: 3 });
    expect(await lossError(step, p.root, "test/fixtures/tiny-sd-b/references/k2-b3.safetensors")).toBeLessThan(1e-5);
  });

  it("rewires a scalar timestep reached through a Cast, same numbers", async () => {
    const p = readPipeline("test/fixtures/tiny-sd-b");
    const g = p.unet.graph;
    for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === "timestep" ? "timestep_cast" : i));
    g.nodes.unshift({ name: "t_cast", opType: "Cast", domain: "", inputs: ["timestep"], outputs: ["timestep_cast"], attributes: { to: { type: "int", value: DataType.FLOAT } } });
    const { step } = buildGraphs(joinForTextualInversion(p.textEncoder, p.unet), { ...OPTIONS, concepts: 2, batch: 3 });
    expect(step.graph.nodes.some((n) => n.name === "unet/t_cast" && n.inputs[0] === "timesteps")).toBe(true);
    expect(await lossError(step, p.root, "test/fixtures/tiny-sd-b/references/k2-b3.safetensors")).toBeLessThan(1e-5);
  });

  it("accepts a float32 [B] timestep (diffusers' conversion script), same numbers", async () => {
    const p = readPipeline("test/fixtures/tiny-sd-a");
    const t = p.unet.graph.inputs.find((i) => i.name === "timestep")!;
    t.dataType = DataType.FLOAT;
    const joined = joinForTextualInversion(p.textEncoder, p.unet);
    expect(joined.timestepType).toBe(DataType.FLOAT);
    const { step } = buildGraphs(joined, { ...OPTIONS, concepts: 2, batch: 3 });
    const ref = "test/fixtures/tiny-sd-a/references/k2-b3.safetensors";
    const floats = (r: Record<string, { data: unknown; shape: number[] }>) => ({ ...r, timesteps: { shape: r.timesteps!.shape, data: Float32Array.from(r.timesteps!.data as BigInt64Array, Number) } });
    expect(await lossError(step, p.root, ref, floats)).toBeLessThan(1e-5);
  });

  it("refuses models exported at different opsets", () => {
    const a = readPipeline("test/fixtures/tiny-sd-a"), b = readPipeline("test/fixtures/tiny-sd-b");
    expect(() => joinForTextualInversion(a.textEncoder, b.unet)).toThrow(/opset 14.*opset 17.*must share one opset/);
  });

  it("refuses an op without a gradient rule on the path from concept to loss, naming op and node", () => {
    const p = readPipeline("test/fixtures/tiny-sd-a");
    // The GELU of a GEGLU after cross-attention: on the path, and unknown to shape inference too.
    const erf = p.unet.graph.nodes.find((n) => n.opType === "Erf")!;
    erf.opType = "Gelu";
    const joined = joinForTextualInversion(p.textEncoder, p.unet);
    expect(() => buildGraphs(joined, OPTIONS)).toThrow(new RegExp(`op Gelu \\(node 'unet/${erf.name}'\\) is on the gradient path and has no gradient rule`));
  });

  it("refuses a scalar timestep it cannot give each sample", () => {
    const p = readPipeline("test/fixtures/tiny-sd-b");
    p.unet.graph.nodes.push({ name: "odd_use", opType: "Mul", domain: "", inputs: ["timestep", "timestep"], outputs: ["odd"], attributes: {} });
    expect(() => joinForTextualInversion(p.textEncoder, p.unet)).toThrow(/scalar UNet timestep feeds Mul node 'unet\/odd_use'/);
  });

  it("builds an eval graph without backward nodes and a step graph with them", () => {
    const p = readPipeline("test/fixtures/tiny-sd-a");
    const { step, eval: evalModel } = buildGraphs(joinForTextualInversion(p.textEncoder, p.unet), OPTIONS);
    expect(evalModel.graph.nodes.some((n) => n.opType === "ConvTranspose")).toBe(false);
    expect(evalModel.graph.outputs.map((o) => o.name)).toEqual(["loss", "sample_losses"]);
    expect(step.graph.outputs.map((o) => o.name)).toEqual(["loss", "grad"]);
    expect(step.graph.nodes.some((n) => n.opType === "ConvTranspose")).toBe(true);
    // No weight gradients: every backward MatMul/Gemm/ConvTranspose has a forward weight or activation operand,
    // and there are no more backward ConvTransposes than forward Convs on the UNet path.
    const convs = step.graph.nodes.filter((n) => n.opType === "Conv").length;
    expect(step.graph.nodes.filter((n) => n.opType === "ConvTranspose").length).toBeLessThanOrEqual(convs);
  });

  it("caches compiled graphs by source model and options", () => {
    const cache = path.join(dir, "cache");
    const first = compileTextualInversion("test/fixtures/tiny-sd-a", OPTIONS, cache);
    const second = compileTextualInversion("test/fixtures/tiny-sd-a", OPTIONS, cache);
    expect([first.cached, second.cached]).toEqual([false, true]);
    expect(Buffer.from(second.step).equals(Buffer.from(first.step))).toBe(true);
    const other = compileTextualInversion("test/fixtures/tiny-sd-a", { ...OPTIONS, batch: 3 }, cache);
    expect(other.cached).toBe(false);
    expect(fs.readdirSync(cache).filter((f) => f.endsWith(".onnx"))).toHaveLength(4);
  });

  it("recompiles when a model file changes", () => {
    const copy = path.join(dir, "pipeline");
    fs.cpSync("test/fixtures/tiny-sd-b", copy, { recursive: true });
    const cache = path.join(dir, "cache2");
    expect(compileTextualInversion(copy, OPTIONS, cache).cached).toBe(false);
    expect(compileTextualInversion(copy, OPTIONS, cache).cached).toBe(true);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(copy, "unet", "model.onnx_data"), later, later);
    expect(compileTextualInversion(copy, OPTIONS, cache).cached).toBe(false);
  });
});
