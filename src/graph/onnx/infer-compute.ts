/** Inference rules of the ops that compute (elementwise, products, convolutions, reductions). */
import { DataType, OnnxModelError } from "./ir.js";
import { MAX_TRACKED_VALUES, type OpInference, type TensorInfo } from "./tensor-info.js";
import { axesOf, broadcast, count, convOutputSize, intAttr, intsAttr, norm, same, stringAttr, type Shape } from "./infer-helpers.js";

type Elementwise = (...v: number[]) => number;

export function elementwise(f: Elementwise | undefined, outType?: number, typeFrom = 0): OpInference {
  return (x) => {
    const shape = broadcast(x.inputs.map((i) => i?.shape));
    const dataType = outType ?? x.inputs[typeFrom]?.dataType ?? 0;
    const info: TensorInfo = shape ? { dataType, shape } : { dataType };
    if (f && shape && x.inputs.every((i) => i?.values) && (count(shape) ?? Infinity) <= MAX_TRACKED_VALUES) {
      info.values = evaluateBroadcast(f, x.inputs.map((i) => i!), shape as number[], dataType);
    }
    return [info];
  };
}

export function evaluateBroadcast(f: Elementwise, inputs: TensorInfo[], shape: number[], dataType: number): number[] {
  const total = shape.reduce((a, b) => a * b, 1);
  const isInt = dataType === DataType.INT64 || dataType === DataType.INT32;
  const out: number[] = [];
  for (let flat = 0; flat < total; flat++) {
    const args = inputs.map((t) => {
      const s = t.shape as number[];
      let rem = flat, idx = 0, stride = 1;
      for (let ax = shape.length - 1; ax >= 0; ax--) {
        const coord = rem % shape[ax]!;
        rem = Math.floor(rem / shape[ax]!);
        const sAx = ax - (shape.length - s.length);
        if (sAx >= 0) {
          if (s[sAx] !== 1) idx += coord * stride;
          stride *= s[sAx]!;
        }
      }
      return t.values![idx]!;
    });
    const v = f(...args);
    out.push(isInt ? Math.trunc(v) : v);
  }
  return out;
}

export function reduce(axesInput: number | ((opset: number) => number)): OpInference {
  return (x) => {
    const a = x.inputs[0]!;
    const index = typeof axesInput === "number" ? axesInput : axesInput(x.opset);
    const axes = axesOf(x, index);
    const keep = intAttr(x.node, "keepdims", 1) === 1;
    if (!a.shape) return [{ dataType: a.dataType }];
    const rank = a.shape.length;
    const noop = intAttr(x.node, "noop_with_empty_axes", 0) === 1;
    const all = axes === undefined || axes.length === 0;
    if (all && noop) return [{ ...a, values: undefined }];
    const set = new Set(all ? a.shape.map((_, i) => i) : axes!.map((v) => norm(v, rank)));
    const shape = a.shape.flatMap((d, i) => (set.has(i) ? (keep ? [1] : []) : [d]));
    const info: TensorInfo = { dataType: a.dataType, shape };
    if (x.node.opType === "ReduceProd" && a.values && rank === 1 && set.size === 1) info.values = [a.values.reduce((p, q) => p * q, 1)];
    return [info];
  };
}

export const matmul: OpInference = (x) => {
  const a = x.inputs[0]!, b = x.inputs[1]!;
  if (!a.shape || !b.shape) return [{ dataType: a.dataType }];
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape, bs = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)])!;
  const rows = a.shape.length === 1 ? [] : [as[as.length - 2]!], cols = b.shape.length === 1 ? [] : [bs[bs.length - 1]!];
  return [{ dataType: a.dataType, shape: [...batch, ...rows, ...cols] }];
};

export const gemm: OpInference = (x) => {
  const a = x.inputs[0]!, b = x.inputs[1]!;
  if (!a.shape || !b.shape) return [{ dataType: a.dataType }];
  const m = intAttr(x.node, "transA", 0) ? a.shape[1]! : a.shape[0]!;
  const n = intAttr(x.node, "transB", 0) ? b.shape[0]! : b.shape[1]!;
  return [{ dataType: a.dataType, shape: [m, n] }];
};

export const conv: OpInference = (x) => {
  const a = x.inputs[0]!, w = x.inputs[1]!;
  if (!a.shape || !w.shape) return [{ dataType: a.dataType }];
  const spatial = a.shape.length - 2;
  const kernel = intsAttr(x.node, "kernel_shape") ?? (w.shape.slice(2) as number[]);
  const strides = intsAttr(x.node, "strides") ?? new Array(spatial).fill(1);
  const dil = intsAttr(x.node, "dilations") ?? new Array(spatial).fill(1);
  const pads = intsAttr(x.node, "pads") ?? new Array(2 * spatial).fill(0);
  const autoPad = stringAttr(x.node, "auto_pad", "NOTSET");
  const shape: Shape = [a.shape[0]!, w.shape[0]!];
  for (let i = 0; i < spatial; i++) {
    const d = a.shape[i + 2];
    if (d == null) shape.push(null);
    else if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") shape.push(Math.ceil(d / strides[i]!));
    else shape.push(convOutputSize(d, kernel[i]!, strides[i]!, autoPad === "VALID" ? 0 : pads[i]!, autoPad === "VALID" ? 0 : pads[i + spatial]!, dil[i]!));
  }
  return [{ dataType: a.dataType, shape }];
};

export const convTranspose: OpInference = (x) => {
  const a = x.inputs[0]!, w = x.inputs[1]!;
  if (!a.shape || !w.shape) return [{ dataType: a.dataType }];
  const spatial = a.shape.length - 2;
  const ones = new Array(spatial).fill(1);
  const kernel = intsAttr(x.node, "kernel_shape") ?? (w.shape.slice(2) as number[]);
  const strides = intsAttr(x.node, "strides") ?? ones, dil = intsAttr(x.node, "dilations") ?? ones;
  const pads = intsAttr(x.node, "pads") ?? new Array(2 * spatial).fill(0);
  const outPad = intsAttr(x.node, "output_padding") ?? new Array(spatial).fill(0);
  const channels = w.shape[1] == null ? null : w.shape[1] * intAttr(x.node, "group", 1);
  const shape: Shape = [a.shape[0]!, channels];
  for (let i = 0; i < spatial; i++) {
    const d = a.shape[i + 2];
    shape.push(d == null ? null : strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + spatial]!);
  }
  return [{ dataType: a.dataType, shape }];
};

export const pad: OpInference = (x) => {
  const a = x.inputs[0]!;
  const pads = intsAttr(x.node, "pads") ?? x.inputs[1]?.values;
  const r = a.shape?.length ?? 0;
  const axes = (x.node.inputs[3] ? x.inputs[3]?.values : a.shape?.map((_, i) => i))?.map((v) => norm(v, r));
  if (!a.shape || !pads || !axes) return [{ dataType: a.dataType }];
  const shape = [...a.shape];
  axes.forEach((ax, i) => (shape[ax] = shape[ax] == null ? null : shape[ax]! + pads[i]! + pads[i + axes.length]!));
  return [{ dataType: a.dataType, shape }];
};

export const resize: OpInference = (x) => {
  const a = x.inputs[0]!;
  const scales = x.inputs[2]?.values, sizes = x.inputs[3]?.values;
  if (!a.shape) return [{ dataType: a.dataType }];
  const rank = a.shape.length;
  // Opset 18 may list the resized axes; scales/sizes then cover only those.
  const axes = (intsAttr(x.node, "axes") ?? a.shape.map((_, i) => i)).map((v) => norm(v, rank));
  const shape = [...a.shape];
  if (sizes && sizes.length > 0) axes.forEach((ax, i) => (shape[ax] = sizes[i]!));
  else if (scales && scales.length > 0) axes.forEach((ax, i) => (shape[ax] = a.shape![ax] == null ? null : Math.floor(a.shape![ax]! * scales[i]!)));
  else return [{ dataType: a.dataType, shape: a.shape.map(() => null) }];
  return [{ dataType: a.dataType, shape }];
};

export const einsum: OpInference = (x) => {
  const eq = stringAttr(x.node, "equation", "").replace(/\s/g, "");
  const [lhs, rhs] = eq.split("->");
  if (rhs === undefined) throw new OnnxModelError("Einsum without an explicit output ('->') is not supported");
  const terms = lhs!.split(",");
  const sizes = new Map<string, number | null>();
  let ellipsis: Shape | undefined = [];
  terms.forEach((term, i) => {
    const s = x.inputs[i]?.shape;
    if (!s) return;
    const letters = term.replace("...", "");
    const el = s.length - letters.length;
    const before = term.indexOf("...");
    if (before >= 0) ellipsis = broadcast([ellipsis, s.slice(before, before + el)]);
    [...letters].forEach((c, j) => sizes.set(c, s[j >= before && before >= 0 ? j + el : j] ?? null));
  });
  const shape: Shape = [];
  const before = rhs.indexOf("...");
  [...rhs.replace("...", "")].forEach((c, j) => {
    if (j === before) shape.push(...(ellipsis ?? []));
    shape.push(sizes.get(c) ?? null);
  });
  if (before >= 0 && before === rhs.replace("...", "").length) shape.push(...(ellipsis ?? []));
  return [{ dataType: x.inputs[0]!.dataType, shape }];
};

export const layerNorm: OpInference = (x) => {
  const a = x.inputs[0]!;
  const outs: TensorInfo[] = same(x);
  if (a.shape) {
    const axis = norm(intAttr(x.node, "axis", -1), a.shape.length);
    const reduced = a.shape.map((d, i) => (i >= axis ? 1 : d));
    outs.push({ dataType: DataType.FLOAT, shape: reduced }, { dataType: DataType.FLOAT, shape: reduced });
  }
  return outs;
};

export const cast: OpInference = (x) => {
  const to = intAttr(x.node, "to", 0);
  const info = same(x, to)[0]!;
  const v = x.inputs[0]?.values;
  if (v) info.values = to === DataType.INT64 || to === DataType.INT32 ? v.map(Math.trunc) : to === DataType.BOOL ? v.map((n) => (n ? 1 : 0)) : v;
  return [info];
};

export const passValues: OpInference = (x) => {
  const info = same(x)[0]!;
  if (x.inputs[0]?.values) info.values = x.inputs[0].values;
  return [info];
};
