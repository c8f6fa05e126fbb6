/** Per-op type/shape/value inference rules for ./infer.ts (only what SD exports use). */
import { DataType, OnnxModelError, type Node } from "./ir.js";
import { tensorValues } from "./builder.js";
import { MAX_TRACKED_VALUES, constantInfo, type InferenceInput, type OpInference, type TensorInfo } from "./tensor-info.js";

type Shape = (number | null)[];

export function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a && a.type === "int" ? a.value : fallback;
}

export function intsAttr(node: Node, name: string): number[] | undefined {
  const a = node.attributes[name];
  return a && a.type === "ints" ? a.value : undefined;
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  const a = node.attributes[name];
  return a && a.type === "string" ? a.value : fallback;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a && a.type === "float" ? a.value : fallback;
}

const count = (s: Shape): number | null => (s.some((d) => d === null) ? null : (s as number[]).reduce((a, b) => a * b, 1));
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function broadcast(shapes: (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let dim: number | null = 1;
    for (const s of shapes as Shape[]) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (d === null || dim === null) dim = d === null && dim !== 1 && dim !== null ? dim : null;
      else if (dim === 1) dim = d;
      else if (dim !== d) throw new OnnxModelError(`cannot broadcast shapes ${JSON.stringify(shapes)}`);
    }
    out.push(dim);
  }
  return out;
}

/** Axes from the attribute (older opsets) or from a constant input (newer opsets). */
export function axesOf(x: InferenceInput, inputIndex: number): number[] | undefined {
  const fromAttr = intsAttr(x.node, "axes");
  if (fromAttr) return fromAttr;
  const input = x.inputs[inputIndex];
  if (x.node.inputs[inputIndex] && input) {
    if (!input.values) throw new OnnxModelError(`axes input '${x.node.inputs[inputIndex]}' is not a compile-time constant`);
    return input.values;
  }
  return undefined;
}

function same(x: InferenceInput, dataType?: number): TensorInfo[] {
  const a = x.inputs[0];
  const info: TensorInfo = { dataType: dataType ?? a?.dataType ?? 0 };
  if (a?.shape) info.shape = a.shape;
  return [info];
}

type Elementwise = (...v: number[]) => number;

function elementwise(f: Elementwise | undefined, outType?: number, typeFrom = 0): OpInference {
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

function evaluateBroadcast(f: Elementwise, inputs: TensorInfo[], shape: number[], dataType: number): number[] {
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

function reduce(axesInput: number | ((opset: number) => number)): OpInference {
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

const reshape: OpInference = (x) => {
  const a = x.inputs[0]!;
  const target = x.inputs[1]?.values;
  const info: TensorInfo = { dataType: a.dataType };
  if (target) {
    const allowZero = intAttr(x.node, "allowzero", 0) === 1;
    const shape: Shape = target.map((d, i) => (d === 0 && !allowZero ? (a.shape?.[i] ?? null) : d === -1 ? null : d));
    const minus = target.indexOf(-1);
    const total = a.shape ? count(a.shape) : null;
    if (minus >= 0 && total !== null) {
      const rest = count(shape.filter((_, i) => i !== minus));
      if (rest !== null && rest > 0) shape[minus] = total / rest;
    }
    info.shape = shape;
  } else if (x.inputs[1]?.shape?.[0] != null) {
    info.shape = new Array(x.inputs[1].shape[0]).fill(null);
  }
  if (a.values) info.values = a.values;
  return [info];
};

const unsqueeze: OpInference = (x) => {
  const a = x.inputs[0]!;
  const axes = axesOf(x, 1)!;
  if (!a.shape) return [{ dataType: a.dataType }];
  const rank = a.shape.length + axes.length;
  const set = new Set(axes.map((v) => norm(v, rank)));
  const shape: Shape = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : (a.shape[j++] ?? null));
  return [{ ...a, shape }];
};

const squeeze: OpInference = (x) => {
  const a = x.inputs[0]!;
  const axes = axesOf(x, 1);
  if (!a.shape) return [{ dataType: a.dataType }];
  const set = new Set(axes ? axes.map((v) => norm(v, a.shape!.length)) : a.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  return [{ ...a, shape: a.shape.filter((_, i) => !set.has(i)) }];
};

const concat: OpInference = (x) => {
  const ins = x.inputs.map((i) => i!);
  const first = ins[0]!;
  if (ins.some((i) => !i.shape)) return [{ dataType: first.dataType }];
  const axis = norm(intAttr(x.node, "axis", 0), first.shape!.length);
  const shape = [...first.shape!];
  shape[axis] = ins.reduce<number | null>((s, i) => (s === null || i.shape![axis] == null ? null : s + i.shape![axis]!), 0);
  const info: TensorInfo = { dataType: first.dataType, shape };
  if (shape.length === 1 && ins.every((i) => i.values)) info.values = ins.flatMap((i) => i.values!);
  return [info];
};

/** Resolved [start, end) per sliced axis with step, clamped as ONNX Slice does. */
export function sliceBounds(dim: number, start: number, end: number, step: number): { start: number; end: number; size: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const size = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, end: e, size };
}

const slice: OpInference = (x) => {
  const a = x.inputs[0]!;
  const starts = x.inputs[1]?.values, ends = x.inputs[2]?.values;
  if (!a.shape || !starts || !ends) return [a.shape ? { dataType: a.dataType, shape: a.shape.map(() => null) } : { dataType: a.dataType }];
  const rank = a.shape.length;
  const axes = x.node.inputs[3] ? x.inputs[3]?.values : starts.map((_, i) => i);
  const steps = x.node.inputs[4] ? x.inputs[4]?.values : starts.map(() => 1);
  if (!axes || !steps) return [{ dataType: a.dataType, shape: a.shape.map(() => null) }];
  const shape = [...a.shape];
  const ranges = a.shape.map((d) => ({ start: 0, size: d, step: 1 }));
  axes.forEach((ax, i) => {
    const axis = norm(ax, rank);
    const d = a.shape![axis];
    if (d == null) { shape[axis] = null; return; }
    const b = sliceBounds(d, starts[i]!, ends[i]!, steps[i]!);
    shape[axis] = b.size;
    ranges[axis] = { start: b.start, size: b.size, step: steps[i]! };
  });
  const info: TensorInfo = { dataType: a.dataType, shape };
  if (a.values && rank === 1) {
    const r = ranges[0]!;
    info.values = Array.from({ length: r.size ?? 0 }, (_, i) => a.values![r.start + i * r.step]!);
  }
  return [info];
};

const gather: OpInference = (x) => {
  const a = x.inputs[0]!, idx = x.inputs[1]!;
  if (!a.shape || !idx.shape) return [{ dataType: a.dataType }];
  const axis = norm(intAttr(x.node, "axis", 0), a.shape.length);
  const shape = [...a.shape.slice(0, axis), ...idx.shape, ...a.shape.slice(axis + 1)];
  const info: TensorInfo = { dataType: a.dataType, shape };
  if (a.values && idx.values && a.shape.length === 1) info.values = idx.values.map((i) => a.values![i < 0 ? i + a.values!.length : i]!);
  return [info];
};

const split: OpInference = (x) => {
  const a = x.inputs[0]!;
  const n = x.node.outputs.length;
  if (!a.shape) return x.node.outputs.map(() => ({ dataType: a.dataType }));
  const axis = norm(intAttr(x.node, "axis", 0), a.shape.length);
  const d = a.shape[axis];
  const sizes = intsAttr(x.node, "split") ?? x.inputs[1]?.values ?? (d == null ? undefined : evenSplit(d, n));
  return x.node.outputs.map((_, i) => {
    const shape = [...a.shape!];
    shape[axis] = sizes?.[i] ?? null;
    return { dataType: a.dataType, shape };
  });
};

function evenSplit(d: number, n: number): number[] {
  const chunk = Math.ceil(d / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
}

const matmul: OpInference = (x) => {
  const a = x.inputs[0]!, b = x.inputs[1]!;
  if (!a.shape || !b.shape) return [{ dataType: a.dataType }];
  if (a.shape.length < 2 || b.shape.length < 2) throw new OnnxModelError("MatMul with a 1-D operand is not supported");
  const batch = broadcast([a.shape.slice(0, -2), b.shape.slice(0, -2)])!;
  return [{ dataType: a.dataType, shape: [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!] }];
};

const gemm: OpInference = (x) => {
  const a = x.inputs[0]!, b = x.inputs[1]!;
  if (!a.shape || !b.shape) return [{ dataType: a.dataType }];
  const m = intAttr(x.node, "transA", 0) ? a.shape[1]! : a.shape[0]!;
  const n = intAttr(x.node, "transB", 0) ? b.shape[0]! : b.shape[1]!;
  return [{ dataType: a.dataType, shape: [m, n] }];
};

/** Output size of one spatial axis of a convolution. */
export function convOutputSize(input: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number): number {
  return Math.floor((input + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}

const conv: OpInference = (x) => {
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

const convTranspose: OpInference = (x) => {
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

const pad: OpInference = (x) => {
  const a = x.inputs[0]!;
  const pads = intsAttr(x.node, "pads") ?? x.inputs[1]?.values;
  if (!a.shape || !pads || x.node.inputs[3]) return [{ dataType: a.dataType }];
  const r = a.shape.length;
  return [{ dataType: a.dataType, shape: a.shape.map((d, i) => (d == null ? null : d + pads[i]! + pads[i + r]!)) }];
};

const transpose: OpInference = (x) => {
  const a = x.inputs[0]!;
  if (!a.shape) return [{ dataType: a.dataType }];
  const perm = intsAttr(x.node, "perm") ?? a.shape.map((_, i) => a.shape!.length - 1 - i);
  return [{ dataType: a.dataType, shape: perm.map((p) => a.shape![p]!) }];
};

const flatten: OpInference = (x) => {
  const a = x.inputs[0]!;
  if (!a.shape) return [{ dataType: a.dataType, shape: [null, null] }];
  const axis = norm(intAttr(x.node, "axis", 1), a.shape.length);
  return [{ dataType: a.dataType, shape: [count(a.shape.slice(0, axis)), count(a.shape.slice(axis))] }];
};

const expand: OpInference = (x) => {
  const a = x.inputs[0]!, s = x.inputs[1];
  if (!s?.values) return [{ dataType: a.dataType }];
  return [{ dataType: a.dataType, shape: broadcast([a.shape, s.values])! }];
};

const shapeOp: OpInference = (x) => {
  const a = x.inputs[0]!;
  if (!a.shape) return [{ dataType: DataType.INT64, shape: [null] }];
  const rank = a.shape.length;
  const start = Math.max(0, Math.min(rank, norm(intAttr(x.node, "start", 0), rank)));
  const end = Math.max(0, Math.min(rank, norm(intAttr(x.node, "end", rank), rank)));
  const dims = a.shape.slice(start, end);
  const info: TensorInfo = { dataType: DataType.INT64, shape: [dims.length] };
  if (dims.every((d) => d !== null)) info.values = dims as number[];
  return [info];
};

const resize: OpInference = (x) => {
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

const einsum: OpInference = (x) => {
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

const range: OpInference = (x) => {
  const [s, l, d] = x.inputs.map((i) => i?.values?.[0]);
  const dataType = x.inputs[0]!.dataType;
  if (s === undefined || l === undefined || d === undefined) return [{ dataType, shape: [null] }];
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const info: TensorInfo = { dataType, shape: [n] };
  if (n <= MAX_TRACKED_VALUES) info.values = Array.from({ length: n }, (_, i) => s + i * d);
  return [info];
};

const constantOfShape: OpInference = (x) => {
  const s = x.inputs[0]?.values;
  const v = x.node.attributes.value;
  const t = v?.type === "tensor" ? v.value : undefined;
  const dataType = t?.dataType ?? DataType.FLOAT;
  if (!s) return [{ dataType, shape: x.inputs[0]?.shape?.[0] != null ? new Array(x.inputs[0].shape[0]).fill(null) : undefined }];
  const info: TensorInfo = { dataType, shape: s };
  const n = s.reduce((a, b) => a * b, 1);
  if (n <= MAX_TRACKED_VALUES) info.values = new Array(n).fill(t ? tensorValues(t)[0] : 0);
  return [info];
};

const constant: OpInference = (x) => {
  const v = x.node.attributes.value;
  if (v?.type === "tensor") return [constantInfo(v.value)];
  for (const [k, dataType] of [["value_float", DataType.FLOAT], ["value_int", DataType.INT64]] as const) {
    const a = x.node.attributes[k];
    if (a && (a.type === "float" || a.type === "int")) return [{ dataType, shape: [], values: [a.value] }];
  }
  const ints = intsAttr(x.node, "value_ints");
  if (ints) return [{ dataType: DataType.INT64, shape: [ints.length], values: ints }];
  throw new OnnxModelError("unsupported Constant form");
};

const layerNorm: OpInference = (x) => {
  const a = x.inputs[0]!;
  const outs: TensorInfo[] = same(x);
  if (a.shape) {
    const axis = norm(intAttr(x.node, "axis", -1), a.shape.length);
    const reduced = a.shape.map((d, i) => (i >= axis ? 1 : d));
    outs.push({ dataType: DataType.FLOAT, shape: reduced }, { dataType: DataType.FLOAT, shape: reduced });
  }
  return outs;
};

const cast: OpInference = (x) => {
  const to = intAttr(x.node, "to", 0);
  const info = same(x, to)[0]!;
  const v = x.inputs[0]?.values;
  if (v) info.values = to === DataType.INT64 || to === DataType.INT32 ? v.map(Math.trunc) : to === DataType.BOOL ? v.map((n) => (n ? 1 : 0)) : v;
  return [info];
};

const passValues: OpInference = (x) => {
  const info = same(x)[0]!;
  if (x.inputs[0]?.values) info.values = x.inputs[0].values;
  return [info];
};

const B = DataType.BOOL;
const unary = (f?: (v: number) => number): OpInference => elementwise(f ? (v: number) => f(v) : undefined);

export const OP_INFERENCE: Record<string, OpInference> = {
  Identity: passValues, Dropout: (x) => [same(x)[0]!, same(x, B)[0]!],
  Relu: unary(), Sigmoid: unary(), Tanh: unary(), Erf: unary(), Exp: unary(Math.exp), Log: unary(Math.log),
  Sqrt: unary(Math.sqrt), Neg: unary((v) => -v), Abs: unary(Math.abs), Reciprocal: unary((v) => 1 / v),
  Floor: unary(Math.floor), Ceil: unary(Math.ceil), Sin: unary(Math.sin), Cos: unary(Math.cos), Round: unary(),
  Softmax: unary(), LogSoftmax: unary(), Softplus: unary(), LeakyRelu: unary(), Gelu: unary(), Clip: unary(),
  Trilu: unary(), Not: unary((v) => (v ? 0 : 1)), IsNaN: elementwise(undefined, B), Sign: unary(Math.sign),
  InstanceNormalization: (x) => same(x), BatchNormalization: (x) => same(x), LayerNormalization: layerNorm,
  Cast: cast, CastLike: (x) => cast({ ...x, node: { ...x.node, attributes: { to: { type: "int", value: x.inputs[1]!.dataType } } } }),
  Add: elementwise((a, b) => a + b), Sub: elementwise((a, b) => a - b), Mul: elementwise((a, b) => a * b),
  Div: elementwise((a, b) => a / b), Pow: elementwise((a, b) => a ** b), Mod: elementwise((a, b) => a % b),
  Max: elementwise(Math.max), Min: elementwise(Math.min), Sum: elementwise((...v) => v.reduce((p, q) => p + q, 0)),
  Equal: elementwise((a, b) => (a === b ? 1 : 0), B), Less: elementwise((a, b) => (a < b ? 1 : 0), B),
  Greater: elementwise((a, b) => (a > b ? 1 : 0), B), LessOrEqual: elementwise((a, b) => (a <= b ? 1 : 0), B),
  GreaterOrEqual: elementwise((a, b) => (a >= b ? 1 : 0), B), And: elementwise((a, b) => a && b, B), Or: elementwise((a, b) => a || b, B),
  Where: elementwise((c, a, b) => (c ? a : b), undefined, 1),
  MatMul: matmul, Gemm: gemm, Conv: conv, Einsum: einsum,
  ReduceMean: reduce((o) => (o >= 18 ? 1 : -1)), ReduceSum: reduce((o) => (o >= 13 ? 1 : -1)),
  ReduceMax: reduce((o) => (o >= 18 ? 1 : -1)), ReduceMin: reduce((o) => (o >= 18 ? 1 : -1)),
  ReduceProd: reduce((o) => (o >= 18 ? 1 : -1)), ReduceL2: reduce((o) => (o >= 18 ? 1 : -1)),
  ArgMax: (x) => [{ ...reduce(-1)({ ...x, node: { ...x.node, attributes: { ...x.node.attributes, axes: { type: "ints", value: [intAttr(x.node, "axis", 0)] } } } })[0]!, dataType: DataType.INT64, values: undefined }],
  Reshape: reshape, Flatten: flatten, Transpose: transpose, Squeeze: squeeze, Unsqueeze: unsqueeze,
  Concat: concat, Split: split, Slice: slice, Gather: gather, Expand: expand, Resize: resize,
  Shape: shapeOp, Size: (x) => [{ dataType: DataType.INT64, shape: [], ...(x.inputs[0]?.shape && count(x.inputs[0].shape) !== null ? { values: [count(x.inputs[0].shape)!] } : {}) }],
  ConstantOfShape: constantOfShape, Constant: constant, Range: range,
  NonZero: (x) => [{ dataType: DataType.INT64, shape: [x.inputs[0]?.shape?.length ?? null, null] }],
  OneHot: (x) => [{ dataType: x.inputs[2]!.dataType, shape: x.inputs[0]?.shape && x.inputs[1]?.values ? [...x.inputs[0].shape, x.inputs[1].values[0]!] : undefined }],
  ScatterND: (x) => same(x), ScatterElements: (x) => same(x),
  ConvTranspose: convTranspose, Pad: pad,
};
