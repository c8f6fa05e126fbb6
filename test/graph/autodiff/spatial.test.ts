import { describe, expect, it } from "vitest";
import { attr } from "../../../src/graph/onnx/builder.js";
import { DataType, type AttributeValue } from "../../../src/graph/onnx/ir.js";
import { gradCheck, type OpCase } from "./gradcheck.js";

// Conv, ConvTranspose and Resize have float32 CPU kernels only: h = 1e-2 central
// differences in float32; Conv is linear in x, so the error is rounding only.
const TOL32 = 5e-3;
const F = DataType.FLOAT;

const conv = (x: number[], w: number[], attrs: Record<string, AttributeValue>, bias = true): OpCase => ({
  dataType: F,
  inputs: bias ? { x: { shape: x }, w: { shape: w, wrt: false }, b: { shape: [w[0]!] } } : { x: { shape: x }, w: { shape: w, wrt: false } },
  build: (g, n) => g.op1("Conv", bias ? [n.x!, n.w!, n.b!] : [n.x!, n.w!], attrs),
});

const resize = (ctm: string, nearest: string, scales: number[]): OpCase => ({
  dataType: F,
  inputs: { x: { shape: [1, 2, 2, 3] }, roi: { shape: [0], dataType: F, values: [], wrt: false }, s: { shape: [4], dataType: F, values: scales, wrt: false } },
  build: (g, n) => g.op1("Resize", [n.x!, n.roi!, n.s!], { mode: attr.string("nearest"), coordinate_transformation_mode: attr.string(ctm), nearest_mode: attr.string(nearest) }),
});

describe("spatial gradient rules (finite differences, float32)", () => {
  const cases: [string, OpCase][] = [
    ["Conv 3x3 pad 1 with bias", conv([1, 2, 4, 4], [3, 2, 3, 3], { pads: attr.ints([1, 1, 1, 1]) })],
    ["Conv stride 2 (downsample), odd size", conv([1, 2, 5, 5], [2, 2, 3, 3], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) })],
    ["Conv stride 2, asymmetric pads", conv([1, 1, 6, 6], [2, 1, 3, 3], { strides: attr.ints([2, 2]), pads: attr.ints([0, 0, 1, 1]) }, false)],
    ["Conv groups 2", conv([1, 4, 3, 3], [4, 2, 3, 3], { group: attr.int(2), pads: attr.ints([1, 1, 1, 1]) })],
    ["Conv depthwise with dilation 2", conv([1, 2, 6, 6], [2, 1, 3, 3], { group: attr.int(2), dilations: attr.ints([2, 2]), pads: attr.ints([2, 2, 2, 2]) })],
    ["Conv 1x1", conv([2, 3, 2, 2], [2, 3, 1, 1], {})],
    ["Conv auto_pad SAME_UPPER stride 2", conv([1, 1, 5, 5], [1, 1, 3, 3], { auto_pad: attr.string("SAME_UPPER"), strides: attr.ints([2, 2]) }, false)],
    ["Conv 1-D", conv([1, 2, 7], [3, 2, 3], { pads: attr.ints([1, 1]) })],
    ["Resize nearest 2x (asymmetric, floor) as torch exports it", resize("asymmetric", "floor", [1, 1, 2, 2])],
    ["Resize nearest 2x (half_pixel, round_prefer_floor)", resize("half_pixel", "round_prefer_floor", [1, 1, 2, 2])],
    ["Resize nearest 3x on one axis", resize("asymmetric", "floor", [1, 1, 1, 3])],
    [
      "Resize nearest 2x with sizes and opset-18 axes",
      {
        dataType: F,
        opset: 18,
        inputs: { x: { shape: [1, 2, 2, 3] }, sizes: { shape: [2], dataType: DataType.INT64, values: [4, 6] } },
        build: (g, n) => g.op1("Resize", [n.x!, "", "", n.sizes!], { mode: attr.string("nearest"), axes: attr.ints([2, 3]), coordinate_transformation_mode: attr.string("asymmetric"), nearest_mode: attr.string("floor") }),
      },
    ],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(TOL32);
    });
  }

  it("refuses linear Resize with an error naming the op and node", async () => {
    const c = resize("asymmetric", "floor", [1, 1, 2, 2]);
    const build = c.build;
    c.build = (g, n) => {
      build(g, n);
      return g.op1("Resize", [n.x!, n.roi!, n.s!], { mode: attr.string("linear") });
    };
    await expect(gradCheck(c)).rejects.toThrow(/node 'Resize_node_\d+' \(Resize\): only mode 'nearest'/);
  });
});
