/** Gradient rules of Softmax and the normalizations (InstanceNormalization, LayerNormalization). */
import type { Emitter } from "../emitter.js";
import type { GradRule } from "../rule.js";

/**
 * x normalized over `axes` (mean 0, variance 1, biased variance as ONNX defines it):
 * returns xhat and 1/sqrt(var + eps), both recomputed from x in the backward graph.
 */
function standardize(e: Emitter, x: string, axes: number[], eps: number): { xhat: string; inv: string } {
  const centered = e.sub(x, e.reduceMean(x, axes));
  const variance = e.reduceMean(e.mul(centered, centered), axes);
  const inv = e.op1("Reciprocal", [e.op1("Sqrt", [e.add(variance, e.scalar(eps, x))])]);
  return { xhat: e.mul(centered, inv), inv };
}

/** dx of y = xhat * scale (+ bias), given dxhat = g * scale: inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
function normalizedInputGrad(e: Emitter, dxhat: string, xhat: string, inv: string, axes: number[]): string {
  const centered = e.sub(dxhat, e.reduceMean(dxhat, axes));
  return e.mul(inv, e.sub(centered, e.mul(xhat, e.reduceMean(e.mul(dxhat, xhat), axes))));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

export const normalizationRules: Record<string, GradRule> = {
  // y = softmax(x) along axis: dx = y (g - sum(g y, axis))
  Softmax: {
    grad: (c) => {
      if (c.opset < 13) c.fail("Softmax before opset 13 (2-D coercion) is not supported");
      const e = c.emit, g = c.dy()!, y = c.output(0);
      const dot = e.reduceSum(e.mul(g, y), [c.int("axis", -1)], true);
      return [e.mul(y, e.sub(g, dot))];
    },
  },
  // y = scale_c xhat + bias_c, xhat normalized per (n, c) over the spatial axes:
  // dx as in normalizedInputGrad with dxhat = g scale_c; dscale = sum g xhat, dbias = sum g.
  InstanceNormalization: {
    grad: (c) => {
      const e = c.emit, g = c.dy()!, x = c.input(0);
      const rank = e.rank(x);
      const spatial = range(2, rank), perChannel = range(1, rank - 1);
      const { xhat, inv } = standardize(e, x, spatial, c.float("epsilon", 1e-5));
      const scale = e.unsqueeze(c.input(1), perChannel);
      const outer = [0, ...spatial];
      return [
        c.needs(0) ? normalizedInputGrad(e, e.mul(g, scale), xhat, inv, spatial) : undefined,
        c.needs(1) ? e.reduceSum(e.mul(g, xhat), outer, false) : undefined,
        c.needs(2) ? e.reduceSum(g, outer, false) : undefined,
      ];
    },
  },
  // y = xhat scale + bias, xhat normalized over axes [axis, rank): as above, with dscale = g xhat
  // and dbias = g summed back to their shapes by the engine. Mean/InvStdDev outputs: no gradient.
  LayerNormalization: {
    broadcasts: true,
    grad: (c) => {
      if (c.dy(1) || c.dy(2)) c.fail("gradients through the Mean/InvStdDev outputs are not supported");
      const e = c.emit, g = c.dy()!, x = c.input(0);
      const rank = e.rank(x);
      const axis = c.int("axis", -1);
      const axes = range(axis < 0 ? axis + rank : axis, rank);
      const { xhat, inv } = standardize(e, x, axes, c.float("epsilon", 1e-5));
      return [
        c.needs(0) ? normalizedInputGrad(e, e.mul(g, c.input(1)), xhat, inv, axes) : undefined,
        c.needs(1) ? e.mul(g, xhat) : undefined,
        c.needs(2) ? g : undefined,
      ];
    },
  },
};
