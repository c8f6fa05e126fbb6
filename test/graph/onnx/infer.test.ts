import { describe, expect, it } from "vitest";
import { GraphBuilder, attr, makeModel, valueInfo } from "../../../src/graph/onnx/builder.js";
import { inferGraph, staticShape } from "../../../src/graph/onnx/infer.js";
import { DataType } from "../../../src/graph/onnx/ir.js";

const F = DataType.FLOAT, I64 = DataType.INT64;

function infer(build: (b: GraphBuilder) => string, inputs: Record<string, number[]>, opset = 17) {
  const b = new GraphBuilder("", new Set(Object.keys(inputs)));
  const out = build(b);
  const model = makeModel({ name: "t", nodes: b.nodes, initializers: b.initializers, inputs: Object.keys(inputs).map((n) => valueInfo(n, F, ["batch", null])), outputs: [valueInfo(out, F)], valueInfo: [] }, opset);
  return inferGraph(model, inputs).get(out)!;
}

describe("shape inference", () => {
  it("evaluates shape arithmetic so a dynamic Reshape gets a static shape (x.view(b, -1, heads, d))", () => {
    const info = infer((b) => {
      const shape = b.op1("Shape", ["x"]);
      const batch = b.op1("Unsqueeze", [b.op1("Gather", [shape, b.scalar(I64, 0)]), b.ints([0])]);
      const target = b.op1("Concat", [batch, b.ints([-1, 2, 4])], { axis: attr.int(0) });
      return b.op1("Reshape", ["x", target]);
    }, { x: [3, 40] });
    expect(info.shape).toEqual([3, 5, 2, 4]);
  });

  it("evaluates slice bounds computed from shapes (GEGLU chunk: x[..., n/2:])", () => {
    const info = infer((b) => {
      const last = b.op1("Gather", [b.op1("Shape", ["x"]), b.ints([-1])]);
      const half = b.op1("Div", [last, b.ints([2])]);
      return b.op1("Slice", ["x", half, b.ints([Number.MAX_SAFE_INTEGER]), b.ints([-1])]);
    }, { x: [2, 10] });
    expect(info.shape).toEqual([2, 5]);
  });

  it("infers convolution, resize and einsum shapes", () => {
    expect(infer((b) => b.op1("Conv", ["x", b.constant(F, [4, 3, 3, 3], new Array(108).fill(0))], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }), { x: [1, 3, 9, 8] }).shape).toEqual([1, 4, 5, 4]);
    expect(infer((b) => b.op1("Resize", ["x", "", b.constant(F, [4], [1, 1, 2, 2])], { mode: attr.string("nearest") }), { x: [1, 3, 4, 5] }).shape).toEqual([1, 3, 8, 10]);
    expect(infer((b) => b.op1("Einsum", ["x", "y"], { equation: attr.string("bhid,bhjd->bhij") }), { x: [2, 3, 5, 4], y: [2, 3, 7, 4] }).shape).toEqual([2, 3, 5, 7]);
  });

  it("records why a node is beyond inference and goes on with the rest of the graph", () => {
    const b = new GraphBuilder("", new Set(["x"]));
    const dynamicAxes = b.op1("Reshape", [b.op1("NonZero", ["x"]), b.ints([-1])]);
    const odd = b.op1("ReduceSum", ["x", dynamicAxes]);
    const fine = b.op1("Transpose", ["x"]);
    const model = makeModel({ name: "t", nodes: b.nodes, initializers: b.initializers, inputs: [valueInfo("x", F, [2, 3])], outputs: [valueInfo(odd, F), valueInfo(fine, F)], valueInfo: [] }, 17);
    const infos = inferGraph(model);
    expect(infos.get(fine)!.shape).toEqual([3, 2]);
    expect(infos.get(odd)!.error).toMatch(/ReduceSum.*axes input .* is not a compile-time constant/);
    expect(() => staticShape(infos, odd)).toThrow(/shape of '.*' is not known at compile time \(shape inference failed at node/);
  });

  it("keeps unknown what it cannot know instead of guessing", () => {
    const info = infer((b) => b.op1("Reshape", ["x", b.op1("Cast", [b.op1("NonZero", ["x"])], { to: attr.int(I64) })]), { x: [2, 3] });
    expect(info.values).toBeUndefined();
    expect(info.shape === undefined || info.shape.every((d) => d === null)).toBe(true);
  });
});
