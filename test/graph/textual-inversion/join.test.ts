import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildGraphs, compileTextualInversion } from "../../../src/graph/textual-inversion/compile.js";
import { joinForTextualInversion } from "../../../src/graph/textual-inversion/join.js";
import { readPipeline } from "../../../src/graph/textual-inversion/pipeline.js";

const OPTIONS = { batch: 2, tokens: 77, concepts: 1, latent: [4, 8, 8] as [number, number, number] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dvar-join-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("joining text encoder and UNet", () => {
  it("finds the token embedding table and the model's conventions", () => {
    const a = readPipeline("test/fixtures/tiny-sd-a"), b = readPipeline("test/fixtures/tiny-sd-b");
    expect(joinForTextualInversion(a.textEncoder, a.unet)).toMatchObject({ vocabSize: 100, hiddenSize: 32, idsType: 6, timestepType: 7 });
    expect(joinForTextualInversion(b.textEncoder, b.unet)).toMatchObject({ vocabSize: 120, hiddenSize: 48, idsType: 7, timestepType: 1 });
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
});
