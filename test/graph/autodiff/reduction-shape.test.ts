import { describe, expect, it } from "vitest";
import { attr } from "../../../src/graph/onnx/builder.js";
import { DataType } from "../../../src/graph/onnx/ir.js";
import { gradCheck, type OpCase } from "./gradcheck.js";

// float64 kernels throughout: central differences with h = 1e-6.
const TOL = 1e-6;
const I64 = DataType.INT64;

const ints = (values: number[]) => ({ shape: [values.length], dataType: I64, values });

const reduce = (op: string, opset: number, axes: number[] | undefined, keepdims: number): OpCase => {
  const axesAsInput = op === "ReduceSum" ? opset >= 13 : opset >= 18;
  return {
    opset,
    inputs: axes && axesAsInput ? { x: { shape: [2, 3, 2] }, axes: ints(axes) } : { x: { shape: [2, 3, 2] } },
    build: (g, n) =>
      axes && axesAsInput
        ? g.op1(op, [n.x!, n.axes!], { keepdims: attr.int(keepdims) })
        : g.op1(op, [n.x!], axes ? { axes: attr.ints(axes), keepdims: attr.int(keepdims) } : { keepdims: attr.int(keepdims) }),
  };
};

describe("reduction gradient rules across opsets (finite differences)", () => {
  const cases: [string, OpCase][] = [
    ["ReduceMean axes attribute, keepdims (opset 14)", reduce("ReduceMean", 14, [-1], 1)],
    ["ReduceMean axes attribute, no keepdims (opset 17)", reduce("ReduceMean", 17, [0, 2], 0)],
    ["ReduceMean axes input, no keepdims (opset 18)", reduce("ReduceMean", 18, [1], 0)],
    ["ReduceMean all axes (opset 18)", reduce("ReduceMean", 18, undefined, 0)],
    ["ReduceSum axes input, keepdims (opset 13)", reduce("ReduceSum", 13, [1, 2], 1)],
    ["ReduceSum axes input, no keepdims (opset 17)", reduce("ReduceSum", 17, [-2], 0)],
    ["ReduceSum all axes, keepdims", reduce("ReduceSum", 17, undefined, 1)],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(TOL);
    });
  }
});

describe("data movement gradient rules (finite differences)", () => {
  const cases: [string, OpCase][] = [
    ["Reshape with 0 and -1", { inputs: { x: { shape: [2, 3, 2] }, s: ints([0, -1]) }, build: (g, n) => g.op1("Reshape", [n.x!, n.s!]) }],
    ["Flatten axis 2", { inputs: { x: { shape: [2, 3, 2] } }, build: (g, n) => g.op1("Flatten", [n.x!], { axis: attr.int(2) }) }],
    ["Transpose perm", { inputs: { x: { shape: [2, 3, 4] } }, build: (g, n) => g.op1("Transpose", [n.x!], { perm: attr.ints([1, 2, 0]) }) }],
    ["Transpose default (reverse)", { inputs: { x: { shape: [2, 3] } }, build: (g, n) => g.op1("Transpose", [n.x!]) }],
    ["Squeeze axes input (opset 13)", { opset: 13, inputs: { x: { shape: [2, 1, 3] }, a: ints([1]) }, build: (g, n) => g.op1("Squeeze", [n.x!, n.a!]) }],
    ["Unsqueeze axes input (opset 17)", { inputs: { x: { shape: [2, 3] }, a: ints([0, -1]) }, build: (g, n) => g.op1("Unsqueeze", [n.x!, n.a!]) }],
    ["Concat axis 1, three inputs", { inputs: { a: { shape: [2, 1] }, b: { shape: [2, 3] }, c: { shape: [2, 2] } }, build: (g, n) => g.op1("Concat", [n.a!, n.b!, n.c!], { axis: attr.int(1) }) }],
    ["Concat with a constant input", { inputs: { a: { shape: [2, 2] }, k: { shape: [1, 2], wrt: false } }, build: (g, n) => g.op1("Concat", [n.k!, n.a!], { axis: attr.int(-2) }) }],
    ["Split sizes input, one output used (opset 13)", { opset: 13, inputs: { x: { shape: [5, 2] }, s: ints([2, 3]) }, build: (g, n) => g.op("Split", [n.x!, n.s!], { axis: attr.int(0) }, 2)[1]! }],
    ["Split num_outputs, both used (opset 18)", { opset: 18, inputs: { x: { shape: [2, 4] } }, build: (g, n) => { const [p, q] = g.op("Split", [n.x!], { axis: attr.int(1), num_outputs: attr.int(2) }, 2); return g.op1("Mul", [p!, q!]); } }],
    ["Slice GEGLU chunk (second half, end INT64_MAX)", { inputs: { x: { shape: [2, 6] }, st: ints([3]), en: ints([Number.MAX_SAFE_INTEGER]), ax: ints([-1]) }, build: (g, n) => g.op1("Slice", [n.x!, n.st!, n.en!, n.ax!]) }],
    ["Slice two axes with negative start", { inputs: { x: { shape: [3, 4] }, st: ints([-2, 1]), en: ints([3, 3]), ax: ints([0, 1]), sp: ints([1, 1]) }, build: (g, n) => g.op1("Slice", [n.x!, n.st!, n.en!, n.ax!, n.sp!]) }],
    ["Gather rows with repeated indices (token lookup)", { inputs: { w: { shape: [4, 3] }, i: { shape: [2, 3], dataType: I64, values: [0, 3, 3, 1, 0, 0] } }, build: (g, n) => g.op1("Gather", [n.w!, n.i!]) }],
    ["Slice with step 2 on two axes", { inputs: { x: { shape: [4, 5] }, st: ints([0, 1]), en: ints([4, 5]), ax: ints([0, 1]), sp: ints([2, 2]) }, build: (g, n) => g.op1("Slice", [n.x!, n.st!, n.en!, n.ax!, n.sp!]) }],
    ["Slice with step -1 (reverse)", { inputs: { x: { shape: [2, 5] }, st: ints([-1]), en: ints([-Number.MAX_SAFE_INTEGER]), ax: ints([1]), sp: ints([-1]) }, build: (g, n) => g.op1("Slice", [n.x!, n.st!, n.en!, n.ax!, n.sp!]) }],
    ["Gather along axis 1 with repeats (Einsum path)", { inputs: { w: { shape: [2, 4, 3] }, i: { shape: [3], dataType: I64, values: [3, 0, 3] } }, build: (g, n) => g.op1("Gather", [n.w!, n.i!], { axis: attr.int(1) }) }],
    ["Gather along axis -1 with 2-D indices", { inputs: { w: { shape: [2, 3] }, i: { shape: [2, 2], dataType: I64, values: [2, 0, 0, 1] } }, build: (g, n) => g.op1("Gather", [n.w!, n.i!], { axis: attr.int(-1) }) }],
    ["Pad constant mode (pads input)", { inputs: { x: { shape: [2, 3] }, p: ints([1, 0, 0, 2]) }, build: (g, n) => g.op1("Pad", [n.x!, n.p!]) }],
    ["Pad with opset-18 axes", { opset: 18, inputs: { x: { shape: [1, 2, 3] }, p: ints([1, 2]), v: { shape: [], values: [0] }, a: ints([-1]) }, build: (g, n) => g.op1("Pad", [n.x!, n.p!, n.v!, n.a!]) }],
    ["Tile", { inputs: { x: { shape: [2, 3] }, r: ints([2, 3]) }, build: (g, n) => g.op1("Tile", [n.x!, n.r!]) }],
    ["Gather with int32 indices", { inputs: { w: { shape: [3, 2] }, i: { shape: [2], dataType: DataType.INT32, values: [2, 2] } }, build: (g, n) => g.op1("Gather", [n.w!, n.i!], { axis: attr.int(0) }) }],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(TOL);
    });
  }
});
