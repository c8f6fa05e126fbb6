/** Gradient rules of the ops that select or repeat elements: Slice, Gather, Pad, Tile. */
import { attr } from "../../onnx/builder.js";
import { DataType } from "../../onnx/ir.js";
import { sliceBounds } from "../../onnx/infer-helpers.js";
import type { GradRule } from "../rule.js";

const product = (v: number[]) => v.reduce((a, b) => a * b, 1);

export const indexingRules: Record<string, GradRule> = {
  // y = x[start:end:step] per axis. Step 1 everywhere: dx = g zero-padded back to x's shape.
  // Otherwise, axis by axis, g is scattered into zeros at the indices the slice took.
  Slice: {
    grad: (c) => {
      const e = c.emit, shape = e.staticShape(c.input(0)), rank = shape.length;
      const starts = c.constantInput(1), ends = c.constantInput(2);
      const axes = (c.node.inputs[3] ? c.constantInput(3) : starts?.map((_, i) => i))?.map((a) => (a < 0 ? a + rank : a));
      const steps = c.node.inputs[4] ? c.constantInput(4) : starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps) return c.fail("slice bounds are not compile-time constants");
      const bounds = axes.map((axis, i) => sliceBounds(shape[axis]!, starts[i]!, ends[i]!, steps[i]!));
      if (steps.every((s) => s === 1)) {
        const pads = new Array<number>(2 * rank).fill(0);
        axes.forEach((axis, i) => {
          pads[axis] = bounds[i]!.start;
          pads[axis + rank] = shape[axis]! - bounds[i]!.start - bounds[i]!.size;
        });
        return [e.op1("Pad", [c.dy()!, e.ints(pads)])];
      }
      let g = c.dy()!;
      let current = e.staticShape(c.output(0));
      axes.forEach((axis, i) => {
        const b = bounds[i]!;
        const taken = Array.from({ length: b.size }, (_, j) => b.start + j * steps[i]!);
        const full = current.map((d, k) => (k === axis ? shape[axis]! : d));
        const at = e.op1("Expand", [e.op1("Reshape", [e.ints(taken), e.ints(current.map((_, k) => (k === axis ? b.size : 1)))]), e.ints(current)]);
        const zeros = e.op1("Expand", [e.scalar(0, g), e.ints(full)]);
        g = e.op1("ScatterElements", [zeros, at, g], { axis: attr.int(axis) });
        current = full;
      });
      return [g];
    },
  },
  // y = data[.., indices, ..] along axis a: ddata[p, d, q] = sum_n onehot(indices)[n, d] g[p, n, q]
  // (repeated indices add up); one MatMul for axis 0, an Einsum otherwise. Indices: no gradient.
  Gather: {
    grad: (c) => {
      const e = c.emit, data = c.input(0), indices = c.input(1);
      const dataShape = e.staticShape(data);
      const axis = c.int("axis", 0) < 0 ? c.int("axis", 0) + dataShape.length : c.int("axis", 0);
      const n = product(e.staticShape(indices));
      const pre = product(dataShape.slice(0, axis)), post = product(dataShape.slice(axis + 1));
      const flat = e.op1("Reshape", [e.op1("Cast", [indices], { to: attr.int(DataType.INT64) }), e.ints([n])]);
      let onehot = e.op1("OneHot", [flat, e.ints([dataShape[axis]!]), e.constant(DataType.FLOAT, [2], [0, 1])], { axis: attr.int(-1) });
      if (e.info(data).dataType !== DataType.FLOAT) onehot = e.op1("Cast", [onehot], { to: attr.int(e.info(data).dataType) });
      const grad =
        axis === 0
          ? e.op1("MatMul", [e.transpose(onehot, [1, 0]), e.op1("Reshape", [c.dy()!, e.ints([n, post])])])
          : e.op1("Einsum", [e.op1("Reshape", [c.dy()!, e.ints([pre, n, post])]), onehot], { equation: attr.string("pnq,nd->pdq") });
      return [e.reshape(grad, data), undefined];
    },
  },
  // y = x zero-padded by [begin.., end..] (constant mode): dx = the part of g that x filled.
  Pad: {
    grad: (c) => {
      const e = c.emit, shape = e.staticShape(c.input(0)), rank = shape.length;
      if (c.string("mode", "constant") !== "constant") c.fail("only constant-mode Pad is differentiable here");
      if (c.needs(2)) c.fail("the padding value gets no gradient");
      const pads = c.ints("pads") ?? c.constantInput(1);
      if (!pads) return c.fail("pads are not compile-time constants");
      const axes = (c.node.inputs[3] ? c.constantInput(3) : shape.map((_, i) => i))?.map((a) => (a < 0 ? a + rank : a));
      if (!axes) return c.fail("Pad axes are not compile-time constants");
      if (pads.some((p) => p < 0)) c.fail("negative pads (cropping) are not supported");
      const begins = axes.map((_, i) => pads[i]!);
      const ends = axes.map((a, i) => pads[i]! + shape[a]!);
      return [e.op1("Slice", [c.dy()!, e.ints(begins), e.ints(ends), e.ints(axes)])];
    },
  },
  // y = x repeated r_i times along each axis: dx = g viewed as [r_0, d_0, r_1, d_1, ..] summed over the r_i.
  Tile: {
    grad: (c) => {
      const e = c.emit, shape = e.staticShape(c.input(0));
      const repeats = c.constantInput(1);
      if (!repeats) return c.fail("repeats are not compile-time constants");
      const blocks = e.op1("Reshape", [c.dy()!, e.ints(shape.flatMap((d, i) => [repeats[i]!, d]))]);
      return [e.reduceSum(blocks, shape.map((_, i) => 2 * i), false), undefined];
    },
  },
};
