/**
 * Helpers to build IR nodes, attributes and small constant tensors. Used by the
 * differentiation rules, the textual-inversion joiner and tests.
 */
import { DataType, OnnxModelError, type AttributeValue, type Graph, type Model, type Node, type TensorValue, type ValueInfo, type Dim } from "./ir.js";

export const attr = {
  int: (value: number): AttributeValue => ({ type: "int", value }),
  float: (value: number): AttributeValue => ({ type: "float", value }),
  ints: (value: number[]): AttributeValue => ({ type: "ints", value }),
  floats: (value: number[]): AttributeValue => ({ type: "floats", value }),
  string: (value: string): AttributeValue => ({ type: "string", value }),
  tensor: (value: TensorValue): AttributeValue => ({ type: "tensor", value }),
};

/** A tensor with inline little-endian bytes from plain numbers. */
export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number>): TensorValue {
  let bytes: Uint8Array;
  switch (dataType) {
    case DataType.FLOAT: bytes = new Uint8Array(Float32Array.from(values).buffer); break;
    case DataType.DOUBLE: bytes = new Uint8Array(Float64Array.from(values).buffer); break;
    case DataType.INT64: bytes = new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v)))).buffer); break;
    case DataType.INT32: bytes = new Uint8Array(Int32Array.from(values).buffer); break;
    case DataType.BOOL: case DataType.UINT8: bytes = Uint8Array.from(values); break;
    default: throw new OnnxModelError(`makeTensor: unsupported data type ${dataType}`);
  }
  return { name, dataType, dims, payload: { kind: "inline", bytes } };
}

/** Reads the values of an inline tensor as numbers (int64 converted, clamped to the safe range). */
export function tensorValues(t: TensorValue): number[] {
  if (t.payload.kind !== "inline") throw new OnnxModelError(`tensor '${t.name}' is stored externally`);
  const b = t.payload.bytes;
  const buf = new Uint8Array(b).buffer; // a copy (Buffer#slice would be a view)
  switch (t.dataType) {
    case DataType.FLOAT: return Array.from(new Float32Array(buf));
    case DataType.DOUBLE: return Array.from(new Float64Array(buf));
    case DataType.INT64: return Array.from(new BigInt64Array(buf), (v) => clampToSafe(v));
    case DataType.INT32: return Array.from(new Int32Array(buf));
    case DataType.BOOL: case DataType.UINT8: return Array.from(b);
    case DataType.INT8: return Array.from(new Int8Array(buf));
    default: throw new OnnxModelError(`tensor '${t.name}': cannot read data type ${t.dataType}`);
  }
}

function clampToSafe(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

/** Appends nodes and constants to a graph under fresh, collision-free names. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: TensorValue[] = [];
  private counter = 0;

  constructor(
    private readonly prefix: string,
    private readonly taken: Set<string>,
  ) {}

  fresh(hint: string): string {
    for (;;) {
      const name = `${this.prefix}${hint}_${this.counter++}`;
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
  }

  /** Emits one node; returns its output names. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.fresh(opType));
    this.nodes.push({ name: this.fresh(`${opType}_node`), opType, domain: "", inputs, outputs, attributes });
    return outputs;
  }

  /** Emits a one-output node and returns its output name. */
  op1(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.op(opType, inputs, attributes, 1)[0]!;
  }

  constant(dataType: number, dims: number[], values: ArrayLike<number>, hint = "const"): string {
    const name = this.fresh(hint);
    this.initializers.push(makeTensor(name, dataType, dims, values));
    return name;
  }

  ints(values: number[]): string {
    return this.constant(DataType.INT64, [values.length], values, "ints");
  }

  scalar(dataType: number, value: number): string {
    return this.constant(dataType, [], [value], "scalar");
  }
}

export function valueInfo(name: string, dataType: number, shape?: Dim[]): ValueInfo {
  return shape ? { name, dataType, shape } : { name, dataType };
}

/** A one-graph model at the given default-domain opset. */
export function makeModel(graph: Graph, opset: number): Model {
  return { irVersion: 8, producerName: "dvar-inversion", opsets: { "": opset }, graph };
}

/** Every tensor name that a graph defines or uses. */
export function namesIn(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of [...graph.inputs, ...graph.outputs, ...graph.valueInfo]) names.add(v.name);
  for (const t of graph.initializers) names.add(t.name);
  for (const n of graph.nodes) {
    names.add(n.name);
    for (const x of [...n.inputs, ...n.outputs]) names.add(x);
  }
  return names;
}
