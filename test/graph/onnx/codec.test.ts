import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder, attr, makeModel, makeTensor, valueInfo } from "../../../src/graph/onnx/builder.js";
import { decodeModel, encodeModel } from "../../../src/graph/onnx/codec.js";
import { lastBytesRead, readModelFile } from "../../../src/graph/onnx/model-file.js";
import { DataType, OnnxModelError } from "../../../src/graph/onnx/ir.js";
import { ModelSession } from "../../../src/runtime/session.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dvar-codec-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** y = x + w (w: 300 floats, inline) -> Transpose, written to dir/sub/model.onnx. */
function writeSourceModel(): string {
  const w = makeTensor("w", DataType.FLOAT, [3, 100], Array.from({ length: 300 }, (_, i) => i / 7));
  const b = new GraphBuilder("", new Set(["x", "w"]));
  const sum = b.op1("Add", ["x", "w"]);
  b.nodes.push({ name: "t", opType: "Transpose", domain: "", inputs: [sum], outputs: ["y"], attributes: { perm: attr.ints([1, 0]) } });
  const model = makeModel({ name: "g", nodes: b.nodes, initializers: [w], inputs: [valueInfo("x", DataType.FLOAT, ["batch", 100])], outputs: [valueInfo("y", DataType.FLOAT)], valueInfo: [] }, 17);
  const file = path.join(dir, "sub", "model.onnx");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeModel(model, { externalDataDir: path.dirname(file) }));
  return file;
}

describe("ONNX codec", () => {
  const file = writeSourceModel();

  it("round-trips nodes, attributes, symbolic shapes and opsets", () => {
    const m = decodeModel(fs.readFileSync(file));
    expect(m.opsets).toEqual({ "": 17 });
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(["Add", "Transpose"]);
    expect(m.graph.nodes[1]!.attributes.perm).toEqual({ type: "ints", value: [1, 0] });
    expect(m.graph.inputs[0]!.shape).toEqual(["batch", 100]);
    expect(m.graph.initializers[0]!.payload.kind).toBe("inline");
  });

  it("keeps large inline weights as references into the source file", () => {
    const m = decodeModel(fs.readFileSync(file), { sourcePath: file });
    const payload = m.graph.initializers[0]!.payload;
    expect(payload.kind).toBe("external");
    if (payload.kind !== "external") return;
    expect(payload.file).toBe(file);
    expect(payload.length).toBe(1200);
    const bytes = fs.readFileSync(file).subarray(payload.offset, payload.offset + payload.length);
    expect(new Float32Array(new Uint8Array(bytes).buffer)[299]).toBeCloseTo(299 / 7, 5);
  });

  it("reads a model file without reading its inline weights", async () => {
    // y = x @ w with a 2 MB inline weight and a small inline bias.
    const w = makeTensor("w", DataType.FLOAT, [1024, 512], Array.from({ length: 1024 * 512 }, (_, i) => (i % 97) / 97));
    const bias = makeTensor("b", DataType.FLOAT, [1], [0.5]);
    const b = new GraphBuilder("", new Set(["x", "w", "b", "y"]));
    const mm = b.op1("MatMul", ["x", "w"]);
    b.nodes.push({ name: "add", opType: "Add", domain: "", inputs: [mm, "b"], outputs: ["y"], attributes: {} });
    const big = path.join(dir, "big", "model.onnx");
    fs.mkdirSync(path.dirname(big), { recursive: true });
    const model = makeModel({ name: "g", nodes: b.nodes, initializers: [w, bias], inputs: [valueInfo("x", DataType.FLOAT, [1, 1024])], outputs: [valueInfo("y", DataType.FLOAT)], valueInfo: [] }, 17);
    fs.writeFileSync(big, encodeModel(model, { externalDataDir: dir }));
    const m = readModelFile(big);
    expect(lastBytesRead).toBeLessThan(200_000);
    expect(m.graph.initializers[0]!.payload).toEqual(decodeModel(fs.readFileSync(big), { sourcePath: big }).graph.initializers[0]!.payload);
    expect(m.graph.initializers[1]!.payload.kind).toBe("inline");
    // The compiled graph runs with the weight read by onnxruntime from the original file.
    const session = await ModelSession.fromBytes(encodeModel(m, { externalDataDir: dir }), { threads: 1, externalDataDir: dir });
    const out = await session.run({ x: { data: new Float32Array(1024).fill(1), dims: [1, 1024] } });
    const expected = Array.from({ length: 1024 }, (_, r) => ((r * 512 + 1) % 97) / 97).reduce((a, v) => a + v, 0) + 0.5;
    expect((out.y!.data as Float32Array)[1]).toBeCloseTo(expected, 2);
    await session.release();
  });

  it("reads the committed fixtures the same way as a whole-file decode", () => {
    for (const f of ["test/fixtures/tiny-sd-a/unet/model.onnx", "test/fixtures/tiny-sd-b/unet/model.onnx", "test/fixtures/tiny-sd-a/text_encoder/model.onnx"]) {
      const absolute = path.resolve(f);
      const whole = decodeModel(fs.readFileSync(absolute), { sourcePath: absolute });
      const scanned = readModelFile(absolute);
      expect(scanned.graph.nodes).toEqual(whole.graph.nodes);
      expect(scanned.graph.initializers).toEqual(whole.graph.initializers);
    }
  });

  it("writes graphs whose weights stay in the source file and runs them from bytes", async () => {
    const m = decodeModel(fs.readFileSync(file), { sourcePath: file });
    const bytes = encodeModel(m, { externalDataDir: dir });
    expect(bytes.length).toBeLessThan(600); // the 1200 weight bytes are not copied
    const session = await ModelSession.fromBytes(bytes, { threads: 1, externalDataDir: dir });
    const out = await session.run({ x: { data: new Float32Array(300).fill(1), dims: [3, 100] } });
    expect(out.y!.dims).toEqual([100, 3]);
    expect((out.y!.data as Float32Array)[3 * 99 + 2]).toBeCloseTo(1 + 299 / 7, 5);
    await session.release();
  });

  it("refuses to write a reference that leaves the external-data folder", () => {
    const m = decodeModel(fs.readFileSync(file), { sourcePath: file });
    expect(() => encodeModel(m, { externalDataDir: path.join(dir, "elsewhere") })).toThrow(OnnxModelError);
  });

  it("resolves ONNX external data relative to the model file", async () => {
    const m = decodeModel(fs.readFileSync(file), { sourcePath: file });
    const top = path.join(dir, "top.onnx");
    fs.writeFileSync(top, encodeModel(m, { externalDataDir: dir }));
    const again = decodeModel(fs.readFileSync(top), { sourcePath: top });
    expect(again.graph.initializers[0]!.payload).toEqual(m.graph.initializers[0]!.payload);
    const session = await ModelSession.fromFile(top, { threads: 1 });
    const out = await session.run({ x: { data: new Float32Array(300), dims: [3, 100] } });
    expect((out.y!.data as Float32Array)[3]).toBeCloseTo(1 / 7, 6);
    await session.release();
  });
});
