/** Gradient rules of the spatial ops: Conv and nearest-neighbour Resize. */
import { attr } from "../../onnx/builder.js";
import type { GradContext, GradRule } from "../rule.js";

/** Explicit [begin..., end...] pads of a Conv, resolving auto_pad from static shapes. */
function convPads(c: GradContext, inShape: number[], outShape: number[], kernel: number[], strides: number[], dil: number[]): number[] {
  const spatial = kernel.length;
  const autoPad = c.string("auto_pad", "NOTSET");
  if (autoPad === "NOTSET") return c.ints("pads") ?? new Array(2 * spatial).fill(0);
  if (autoPad === "VALID") return new Array(2 * spatial).fill(0);
  const begin: number[] = [], end: number[] = [];
  for (let i = 0; i < spatial; i++) {
    const total = Math.max(0, (outShape[i + 2]! - 1) * strides[i]! + (kernel[i]! - 1) * dil[i]! + 1 - inShape[i + 2]!);
    const small = Math.floor(total / 2);
    begin.push(autoPad === "SAME_UPPER" ? small : total - small);
    end.push(total - begin[i]!);
  }
  return [...begin, ...end];
}

export const spatialRules: Record<string, GradRule> = {
  // y = conv(x, w) + b. dx = conv_transpose(g, w) with the same strides, pads, dilations and
  // groups, output_padding chosen so dx has x's size; db = sum of g over batch and space.
  // dw is not provided: weights never need gradients in this compiler.
  Conv: {
    grad: (c) => {
      const e = c.emit, g = c.dy()!, x = c.input(0), w = c.input(1);
      if (c.needs(1)) c.fail("gradients with respect to convolution weights are not supported");
      const inShape = e.staticShape(x), outShape = e.staticShape(c.output(0)), wShape = e.staticShape(w);
      const spatial = inShape.length - 2;
      const kernel = c.ints("kernel_shape") ?? wShape.slice(2);
      const strides = c.ints("strides") ?? new Array(spatial).fill(1);
      const dil = c.ints("dilations") ?? new Array(spatial).fill(1);
      const pads = convPads(c, inShape, outShape, kernel, strides, dil);
      let dx: string | undefined;
      if (c.needs(0)) {
        const outputPadding = kernel.map(
          (k, i) => inShape[i + 2]! - ((outShape[i + 2]! - 1) * strides[i]! + (k - 1) * dil[i]! + 1 - pads[i]! - pads[i + spatial]!),
        );
        dx = e.op1("ConvTranspose", [g, w], {
          kernel_shape: attr.ints(kernel),
          strides: attr.ints(strides),
          dilations: attr.ints(dil),
          pads: attr.ints(pads),
          group: attr.int(c.int("group", 1)),
          output_padding: attr.ints(outputPadding),
        });
      }
      const db = c.needs(2) ? e.reduceSum(g, [0, ...Array.from({ length: spatial }, (_, i) => i + 2)], false) : undefined;
      return [dx, undefined, db];
    },
  },
  // y = nearest upsampling of x by integer factors s (each x element copied into an s-block):
  // dx = g reshaped to [.., n_i, s_i, ..] and summed over every s_i axis.
  Resize: {
    grad: (c) => {
      const e = c.emit, g = c.dy()!, x = c.input(0);
      if (c.string("mode", "nearest") !== "nearest") c.fail("only mode 'nearest' is supported");
      const ctm = c.string("coordinate_transformation_mode", "half_pixel");
      const nearest = c.string("nearest_mode", "round_prefer_floor");
      const blockwise = (ctm === "asymmetric" && nearest === "floor") || ((ctm === "half_pixel" || ctm === "pytorch_half_pixel") && nearest.startsWith("round_prefer"));
      if (!blockwise) c.fail(`coordinate_transformation_mode '${ctm}' with nearest_mode '${nearest}' is not supported`);
      const inShape = e.staticShape(x), outShape = e.staticShape(c.output(0));
      const factors = outShape.map((d, i) => d / inShape[i]!);
      if (factors.some((f) => !Number.isInteger(f) || f < 1)) c.fail(`scale factors ${JSON.stringify(factors)} are not whole numbers`);
      const split = inShape.flatMap((d, i) => [d, factors[i]!]);
      const blocks = e.op1("Reshape", [g, e.ints(split)]);
      return [e.reduceSum(blocks, inShape.map((_, i) => 2 * i + 1), false)];
    },
  },
};
