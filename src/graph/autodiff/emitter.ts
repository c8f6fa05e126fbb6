/**
 * Emits backward nodes and infers each one's type and shape on the spot, so rules and
 * the engine can ask for the rank or static shape of any tensor, forward or backward.
 */
import { GraphBuilder, attr } from "../onnx/builder.js";
import { OP_INFERENCE } from "../onnx/infer-ops.js";
import { constantInfo, type InfoMap, type TensorInfo } from "../onnx/tensor-info.js";
import { because } from "../onnx/infer.js";
import { DataType, OnnxModelError, type AttributeValue } from "../onnx/ir.js";

export class Emitter {
  readonly builder: GraphBuilder;

  constructor(
    readonly infos: InfoMap,
    readonly opset: number,
    taken: Set<string>,
  ) {
    this.builder = new GraphBuilder("grad/", taken);
  }

  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string[] {
    const outputs = this.builder.op(opType, inputs, attributes, outputCount);
    const node = this.builder.nodes[this.builder.nodes.length - 1]!;
    const rule = OP_INFERENCE[opType];
    const infos = rule ? rule({ node, inputs: inputs.map((n) => (n === "" ? undefined : this.infos.get(n))), opset: this.opset }) : [];
    outputs.forEach((o, i) => this.infos.set(o, infos[i] ?? { dataType: 0 }));
    return outputs;
  }

  op1(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.op(opType, inputs, attributes, 1)[0]!;
  }

  constant(dataType: number, dims: number[], values: ArrayLike<number>): string {
    const name = this.builder.constant(dataType, dims, values);
    this.infos.set(name, constantInfo(this.builder.initializers[this.builder.initializers.length - 1]!));
    return name;
  }

  /** A 1-D int64 constant (axes, shapes, pads). */
  ints(values: number[]): string {
    return this.constant(DataType.INT64, [values.length], values);
  }

  /** A scalar constant with the element type of `like`. */
  scalar(value: number, like: string): string {
    return this.constant(this.info(like).dataType, [], [value]);
  }

  info(name: string): TensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new OnnxModelError(`no type information for tensor '${name}'`);
    return info;
  }

  rank(name: string): number {
    const shape = this.info(name).shape;
    if (!shape) throw new OnnxModelError(`the rank of '${name}' is not known at compile time${because(this.info(name))}`);
    return shape.length;
  }

  staticShape(name: string): number[] {
    const shape = this.info(name).shape;
    if (!shape || shape.some((d) => d === null)) throw new OnnxModelError(`the shape of '${name}' is not known at compile time${because(this.info(name))}`);
    return shape as number[];
  }

  // Small vocabulary used by many rules.
  add(a: string, b: string): string { return this.op1("Add", [a, b]); }
  sub(a: string, b: string): string { return this.op1("Sub", [a, b]); }
  mul(a: string, b: string): string { return this.op1("Mul", [a, b]); }
  div(a: string, b: string): string { return this.op1("Div", [a, b]); }
  neg(a: string): string { return this.op1("Neg", [a]); }
  reshape(a: string, shapeOf: string): string { return this.op1("Reshape", [a, this.ints(this.staticShape(shapeOf))]); }
  transpose(a: string, perm: number[]): string { return this.op1("Transpose", [a], { perm: attr.ints(perm) }); }
  reduceSum(a: string, axes: number[], keepdims: boolean): string {
    return this.op1("ReduceSum", [a, this.ints(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  /** Mean over axes with keepdims (ReduceSum x 1/n: the axes input form works for every opset >= 13). */
  reduceMean(a: string, axes: number[]): string {
    const shape = this.staticShape(a);
    const n = axes.reduce((p, ax) => p * shape[ax < 0 ? ax + shape.length : ax]!, 1);
    return this.mul(this.reduceSum(a, axes, true), this.scalar(1 / n, a));
  }
  unsqueeze(a: string, axes: number[]): string { return this.op1("Unsqueeze", [a, this.ints(axes)]); }
}
