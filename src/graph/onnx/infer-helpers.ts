/** Helpers shared by the inference rules and the gradient rules: attributes, broadcasting, axes. */
import { OnnxModelError, type Node } from "./ir.js";
import type { InferenceInput, TensorInfo } from "./tensor-info.js";

export type Shape = (number | null)[];

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

export const count = (s: Shape): number | null => (s.some((d) => d === null) ? null : (s as number[]).reduce((a, b) => a * b, 1));

export const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

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

export function same(x: InferenceInput, dataType?: number): TensorInfo[] {
  const a = x.inputs[0];
  const info: TensorInfo = { dataType: dataType ?? a?.dataType ?? 0 };
  if (a?.shape) info.shape = a.shape;
  return [info];
}

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

/** Output size of one spatial axis of a convolution. */
export function convOutputSize(input: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number): number {
  return Math.floor((input + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}
