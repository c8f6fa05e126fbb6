/**
 * A small in-memory form of an ONNX model: plain data, no protobuf classes, so graph
 * passes (inference, differentiation, joining) read and build it directly.
 *
 * Tensor payloads are either inline bytes (small constants) or references into a file
 * (location/offset/length, as ONNX external data), so weights stay on disk.
 */

/** ONNX TensorProto.DataType values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

export const BYTES_PER_ELEMENT: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

export function isFloatType(dataType: number): boolean {
  return dataType === DataType.FLOAT || dataType === DataType.DOUBLE || dataType === DataType.FLOAT16 || dataType === DataType.BFLOAT16;
}

/** Where a tensor's bytes live. `file` in an external payload is an absolute path. */
export type TensorPayload =
  | { kind: "inline"; bytes: Uint8Array }
  | { kind: "external"; file: string; offset: number; length: number };

export interface TensorValue {
  name: string;
  dataType: number;
  dims: number[];
  payload: TensorPayload;
}

export type AttributeValue =
  | { type: "float"; value: number }
  | { type: "int"; value: number }
  | { type: "string"; value: string }
  | { type: "tensor"; value: TensorValue }
  | { type: "floats"; value: number[] }
  | { type: "ints"; value: number[] }
  | { type: "strings"; value: string[] }
  | { type: "graph"; value: Graph };

export interface Node {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

/** A dimension: a number, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  dataType: number;
  /** Undefined when the rank is unknown. */
  shape?: Dim[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: TensorValue[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
}

export interface Model {
  irVersion: number;
  producerName: string;
  /** Opset per domain; "" is the default ONNX domain. */
  opsets: Record<string, number>;
  graph: Graph;
}

export class OnnxModelError extends Error {
  override name = "OnnxModelError";
}

/** The default-domain opset of a model (ONNX's "ai.onnx" is the same domain as ""). */
export function onnxOpset(model: Model): number {
  const v = model.opsets[""] ?? model.opsets["ai.onnx"];
  if (v === undefined) throw new OnnxModelError("model imports no default-domain (ai.onnx) opset");
  return v;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
