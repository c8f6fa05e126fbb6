/** What inference knows about one tensor, and the shape of a per-op inference rule. */
import type { Node, TensorValue } from "./ir.js";
import { tensorValues } from "./builder.js";

export interface TensorInfo {
  dataType: number;
  /** Per-axis size; null = unknown size. Undefined = unknown rank. */
  shape?: (number | null)[];
  /** Values of a small tensor known at compile time (row-major). */
  values?: number[];
  /** Why inference knows nothing here (the producing node's rule failed). */
  error?: string;
}

export type InfoMap = Map<string, TensorInfo>;

export interface InferenceInput {
  node: Node;
  inputs: (TensorInfo | undefined)[];
  opset: number;
}

export type OpInference = (x: InferenceInput) => TensorInfo[];

/** Largest tensor whose values are tracked. */
export const MAX_TRACKED_VALUES = 1024;

export function constantInfo(t: TensorValue): TensorInfo {
  const info: TensorInfo = { dataType: t.dataType, shape: [...t.dims] };
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.payload.kind === "inline" && count <= MAX_TRACKED_VALUES) {
    try {
      info.values = tensorValues(t);
    } catch {
      // fp16 and other types: shape only.
    }
  }
  return info;
}

