/** Gradient rules of the ops that move data without arithmetic. */
import { attr } from "../../onnx/builder.js";
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
};
