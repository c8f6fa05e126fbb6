/** Per-op type/shape/value inference rules for ./infer.ts (only what SD exports use): the table, and the data-movement ops. */
import { DataType, OnnxModelError } from "./ir.js";
import { tensorValues } from "./builder.js";
import { MAX_TRACKED_VALUES, constantInfo, type OpInference, type TensorInfo } from "./tensor-info.js";
import { axesOf, broadcast, count, intAttr, intsAttr, norm, same, sliceBounds, type Shape } from "./infer-helpers.js";
import { cast, conv, convTranspose, einsum, elementwise, gemm, layerNorm, matmul, pad, passValues, reduce, resize } from "./infer-compute.js";


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

const tile: OpInference = (x) => {
  const a = x.inputs[0]!, r = x.inputs[1]?.values;
  if (!a.shape || !r) return [{ dataType: a.dataType }];
  return [{ dataType: a.dataType, shape: a.shape.map((d, i) => (d == null ? null : d * r[i]!)) }];
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
  ConvTranspose: convTranspose, Pad: pad, Tile: tile,
};
