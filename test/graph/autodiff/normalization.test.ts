import { describe, expect, it } from "vitest";
import { attr } from "../../../src/graph/onnx/builder.js";
import { DataType } from "../../../src/graph/onnx/ir.js";
import { gradCheck, type OpCase } from "./gradcheck.js";

const TOL64 = 1e-6;
// InstanceNormalization has float32 CPU kernels only: h = 1e-2 central differences.
const TOL32 = 5e-3;

describe("normalization gradient rules (finite differences)", () => {
  const cases: [string, OpCase, number][] = [
    ["Softmax last axis", { inputs: { x: { shape: [2, 4] } }, build: (g, n) => g.op1("Softmax", [n.x!], { axis: attr.int(-1) }) }, TOL64],
    ["Softmax axis 1 of 3-D", { inputs: { x: { shape: [2, 3, 2] } }, build: (g, n) => g.op1("Softmax", [n.x!], { axis: attr.int(1) }) }, TOL64],
    [
      "LayerNormalization last axis with scale and bias (opset 17)",
      { inputs: { x: { shape: [2, 3, 4] }, s: { shape: [4] }, b: { shape: [4] } }, build: (g, n) => g.op("LayerNormalization", [n.x!, n.s!, n.b!], { epsilon: attr.float(1e-5) })[0]! },
      TOL64,
    ],
    [
      "LayerNormalization axis 1, no bias",
      { inputs: { x: { shape: [2, 2, 3] }, s: { shape: [2, 3] } }, build: (g, n) => g.op("LayerNormalization", [n.x!, n.s!], { axis: attr.int(1) })[0]! },
      TOL64,
    ],
    [
      "LayerNormalization float32",
      { dataType: DataType.FLOAT, inputs: { x: { shape: [2, 3, 4] }, s: { shape: [4] }, b: { shape: [4] } }, build: (g, n) => g.op("LayerNormalization", [n.x!, n.s!, n.b!])[0]! },
      TOL32,
    ],
    [
      "InstanceNormalization (GroupNorm export pattern)",
      { dataType: DataType.FLOAT, inputs: { x: { shape: [2, 3, 2, 3] }, s: { shape: [3] }, b: { shape: [3] } }, build: (g, n) => g.op1("InstanceNormalization", [n.x!, n.s!, n.b!], { epsilon: attr.float(1e-5) }) },
      TOL32,
    ],
    [
      "InstanceNormalization 3-D input",
      { dataType: DataType.FLOAT, inputs: { x: { shape: [1, 2, 5] }, s: { shape: [2] }, b: { shape: [2], wrt: false } }, build: (g, n) => g.op1("InstanceNormalization", [n.x!, n.s!, n.b!]) },
      TOL32,
    ],
  ];
  for (const [name, c, tol] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(tol);
    });
  }
});
