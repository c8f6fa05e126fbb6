import { describe, expect, it } from "vitest";
import { attr } from "../../../src/graph/onnx/builder.js";
import { DataType } from "../../../src/graph/onnx/ir.js";
import { gradCheck, type OpCase } from "./gradcheck.js";

// float64 kernels: central differences with h = 1e-6 agree to ~1e-8 relative; 1e-6 is the bar.
const TOL64 = 1e-6;
// float32 kernels (Erf has no float64 CPU kernel): h = 1e-2, truncation + rounding ~1e-3.
const TOL32 = 5e-3;

const binary = (op: string, a: number[], b: number[], positiveB = false): OpCase => ({
  inputs: { a: { shape: a }, b: { shape: b, positive: positiveB } },
  build: (g, n) => g.op1(op, [n.a!, n.b!]),
});

const unary = (op: string, positive = false): OpCase => ({
  inputs: { x: { shape: [2, 3], positive } },
  build: (g, n) => g.op1(op, [n.x!]),
});

describe("elementwise gradient rules (finite differences)", () => {
  const cases: [string, OpCase, number][] = [
    ["Add", binary("Add", [2, 3], [2, 3]), TOL64],
    ["Add broadcast [2,3]+[3]", binary("Add", [2, 3], [3]), TOL64],
    ["Add broadcast [2,1,3]+[4,1]", binary("Add", [2, 1, 3], [4, 1]), TOL64],
    ["Sub broadcast", binary("Sub", [3], [2, 3]), TOL64],
    ["Mul broadcast", binary("Mul", [2, 3], [1, 3]), TOL64],
    ["Div broadcast", binary("Div", [2, 3], [3], true), TOL64],
    ["Pow with constant exponent 2", { inputs: { x: { shape: [2, 3] }, p: { shape: [], values: [2] } }, build: (g, n) => g.op1("Pow", [n.x!, n.p!]) }, TOL64],
    ["Pow with variable exponent", { inputs: { x: { shape: [2, 3], positive: true }, p: { shape: [3] } }, build: (g, n) => g.op1("Pow", [n.x!, n.p!]) }, TOL64],
    ["Sqrt", unary("Sqrt", true), TOL64],
    ["Neg", unary("Neg"), TOL64],
    ["Sigmoid", unary("Sigmoid"), TOL64],
    ["Tanh", unary("Tanh"), TOL64],
    ["Erf (float32)", { ...unary("Erf"), dataType: DataType.FLOAT }, TOL32],
    ["Identity", unary("Identity"), TOL64],
    ["Exp", unary("Exp"), TOL64],
    ["Log", unary("Log", true), TOL64],
    ["Reciprocal", unary("Reciprocal", true), TOL64],
    ["Relu (inputs away from the kink)", { inputs: { x: { shape: [6], values: [-1.5, -0.7, 0.3, 0.9, 1.2, -2] , wrt: true } }, build: (g, n) => g.op1("Relu", [n.x!]) }, TOL64],
    ["Sum of three, broadcasting", { inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [2, 1] } }, build: (g, n) => g.op1("Sum", [n.a!, n.b!, n.c!]) }, TOL64],
    [
      "Where broadcast",
      {
        inputs: { c: { shape: [2, 3], dataType: DataType.BOOL, values: [1, 0, 1, 0, 0, 1] }, a: { shape: [2, 3] }, b: { shape: [3] } },
        build: (g, n) => g.op1("Where", [n.c!, n.a!, n.b!]),
      },
      TOL64,
    ],
    ["Expand", { inputs: { x: { shape: [3, 1] }, s: { shape: [3], dataType: DataType.INT64, values: [2, 3, 4] } }, build: (g, n) => g.op1("Expand", [n.x!, n.s!]) }, TOL64],
    [
      "Cast float32 -> float64 -> float32",
      {
        dataType: DataType.FLOAT,
        inputs: { x: { shape: [2, 3] } },
        build: (g, n) => {
          const wide = g.op1("Cast", [n.x!], { to: attr.int(DataType.DOUBLE) });
          return g.op1("Cast", [g.op1("Mul", [wide, wide])], { to: attr.int(DataType.FLOAT) });
        },
      },
      TOL32,
    ],
    ["multi-consumer: x*x + x", { inputs: { x: { shape: [4] } }, build: (g, n) => g.op1("Add", [g.op1("Mul", [n.x!, n.x!]), n.x!]) }, TOL64],
  ];
  for (const [name, c, tol] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(tol);
    });
  }
});
