/** Gradient rules of ReduceSum and ReduceMean (axes as attribute or input, by opset). */
import type { GradContext, GradRule } from "../rule.js";

/** g spread back over x's shape: undo keepdims=0, then broadcast. Returns [g expanded, element count per output]. */
function spread(c: GradContext, axesInput: number): { dx: string; count: number } {
  const e = c.emit, g = c.dy()!, x = c.input(0);
  const shape = e.staticShape(x);
  const axes = c.axes(axesInput);
  if ((axes === undefined || axes.length === 0) && c.int("noop_with_empty_axes", 0) === 1) return { dx: g, count: 1 };
  const all = axes === undefined || axes.length === 0;
  const normalized = all ? shape.map((_, i) => i) : axes.map((a) => (a < 0 ? a + shape.length : a)).sort((a, b) => a - b);
  const kept = c.int("keepdims", 1) === 1 || normalized.length === 0 ? g : e.unsqueeze(g, normalized);
  const count = normalized.reduce((p, a) => p * shape[a]!, 1);
  return { dx: e.op1("Expand", [kept, e.ints(shape)]), count };
}

export const reductionRules: Record<string, GradRule> = {
  // y = sum of x over axes: dx = g broadcast back over the reduced axes
  ReduceSum: { grad: (c) => [spread(c, c.opset >= 13 ? 1 : -1).dx] },
  // y = mean of x over axes: dx = g broadcast back, divided by the number of reduced elements
  ReduceMean: {
    grad: (c) => {
      const { dx, count } = spread(c, c.opset >= 18 ? 1 : -1);
      return [count === 1 ? dx : c.emit.mul(dx, c.emit.scalar(1 / count, dx))];
    },
  },
};
