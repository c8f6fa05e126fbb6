/** Gradient rules of the ops that move data without arithmetic. */
import { attr } from "../../onnx/builder.js";
import { DataType } from "../../onnx/ir.js";
import { sliceBounds } from "../../onnx/infer-helpers.js";
import type { GradContext, GradRule } from "../rule.js";

/** y = x with another shape (Reshape, Flatten, Squeeze, Unsqueeze): dx = g reshaped to x's shape. */
const reshapeLike: GradRule = { grad: (c) => [c.emit.reshape(c.dy()!, c.input(0))] };

function axisOf(c: GradContext, rank: number): number {
  const axis = c.int("axis", 0);
  return axis < 0 ? axis + rank : axis;
}

export const shapeRules: Record<string, GradRule> = {
  Reshape: reshapeLike,
  Flatten: reshapeLike,
  Squeeze: reshapeLike,
  Unsqueeze: reshapeLike,
  // y = transpose(x, perm): dx = transpose(g, perm^-1)
  Transpose: {
    grad: (c) => {
      const rank = c.emit.rank(c.input(0));
      const perm = c.ints("perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inverse = new Array<number>(rank);
      perm.forEach((p, i) => (inverse[p] = i));
      return [c.emit.transpose(c.dy()!, inverse)];
    },
  },
  // y = concat(x_1..x_n, axis): dx_i = the i-th piece of g split along axis
  Concat: {
    grad: (c) => {
      const e = c.emit;
      const rank = e.rank(c.output(0));
      const axis = axisOf(c, rank);
      const sizes = c.node.inputs.map((x) => e.staticShape(x)[axis]!);
      const parts = e.op("Split", [c.dy()!, e.ints(sizes)], { axis: attr.int(axis) }, sizes.length);
      return parts.map((p, i) => (c.needs(i) ? p : undefined));
    },
  },
  // y_1..y_n = split(x, axis): dx = concat(g_1..g_n, axis), zeros for outputs off the loss path
  Split: {
    grad: (c) => {
      const axis = axisOf(c, c.emit.rank(c.input(0)));
      const parts = c.node.outputs.map((_, i) => c.dyOrZeros(i));
      return [c.emit.op1("Concat", parts, { axis: attr.int(axis) })];
    },
  },
  // y = x[start:end] per axis (step 1): dx = g zero-padded back to x's shape
  Slice: {
    grad: (c) => {
      const e = c.emit, shape = e.staticShape(c.input(0)), rank = shape.length;
      const starts = c.constantInput(1), ends = c.constantInput(2);
      const axes = c.node.inputs[3] ? c.constantInput(3) : starts?.map((_, i) => i);
      const steps = c.node.inputs[4] ? c.constantInput(4) : starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps) return c.fail("slice bounds are not compile-time constants");
      if (steps.some((s) => s !== 1)) c.fail("slices with a step other than 1 are not supported");
      const pads = new Array<number>(2 * rank).fill(0);
      axes.forEach((a, i) => {
        const axis = a < 0 ? a + rank : a;
        const b = sliceBounds(shape[axis]!, starts[i]!, ends[i]!, 1);
        pads[axis] = b.start;
        pads[axis + rank] = shape[axis]! - b.start - b.size;
      });
      return [e.op1("Pad", [c.dy()!, e.ints(pads)])];
    },
  },
  // y = data[indices] along axis 0: ddata = onehot(indices)^T @ g (repeated indices add up);
  // indices get no gradient.
  Gather: {
    grad: (c) => {
      const e = c.emit, data = c.input(0), indices = c.input(1);
      if (c.int("axis", 0) !== 0 && c.int("axis", 0) !== -e.rank(data)) c.fail("only Gather along axis 0 is differentiable here");
      const dataShape = e.staticShape(data);
      const count = e.staticShape(indices).reduce((a, b) => a * b, 1);
      const row = dataShape.slice(1).reduce((a, b) => a * b, 1);
      const flat = e.op1("Reshape", [e.op1("Cast", [indices], { to: attr.int(DataType.INT64) }), e.ints([count])]);
      const onValues = e.constant(DataType.FLOAT, [2], [0, 1]);
      let onehot = e.op1("OneHot", [flat, e.ints([dataShape[0]!]), onValues], { axis: attr.int(-1) });
      if (e.info(data).dataType !== DataType.FLOAT) onehot = e.op1("Cast", [onehot], { to: attr.int(e.info(data).dataType) });
      const rows = e.op1("MatMul", [e.transpose(onehot, [1, 0]), e.op1("Reshape", [c.dy()!, e.ints([count, row])])]);
      return [e.reshape(rows, data), undefined];
    },
  },
};
