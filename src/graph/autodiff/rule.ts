/**
 * The contract between the engine and the per-op gradient rules.
 *
 * A rule receives the forward node and the gradients of its outputs, and emits ONNX
 * nodes computing the gradient of each input it is asked for (`needs(i)`). It returns one
 * entry per input: a tensor name, or undefined where no gradient is needed. Rules never
 * reduce broadcast axes nor sum gradients from several consumers: the engine does both.
 */
import type { Node } from "../onnx/ir.js";
import { OnnxModelError } from "../onnx/ir.js";
import { axesOf, floatAttr, intAttr, intsAttr, stringAttr } from "../onnx/infer-helpers.js";
import type { Emitter } from "./emitter.js";

export class GradientError extends OnnxModelError {
  override name = "GradientError";
}

export class GradContext {
  constructor(
    readonly node: Node,
    readonly emit: Emitter,
    private readonly outputGrads: (string | undefined)[],
    private readonly wanted: boolean[],
  ) {}

  get opset(): number {
    return this.emit.opset;
  }
  input(i: number): string {
    return this.node.inputs[i]!;
  }
  output(i: number): string {
    return this.node.outputs[i]!;
  }
  /** Gradient of output i, undefined when that output does not reach the loss. */
  dy(i = 0): string | undefined {
    return this.outputGrads[i];
  }
  /** Gradient of output i, or zeros of its shape. */
  dyOrZeros(i: number): string {
    const g = this.outputGrads[i];
    if (g) return g;
    const y = this.output(i);
    return this.emit.op1("Expand", [this.emit.scalar(0, y), this.emit.ints(this.emit.staticShape(y))]);
  }
  needs(i: number): boolean {
    return this.wanted[i] === true;
  }
  int(name: string, fallback: number): number {
    return intAttr(this.node, name, fallback);
  }
  ints(name: string): number[] | undefined {
    return intsAttr(this.node, name);
  }
  float(name: string, fallback: number): number {
    return floatAttr(this.node, name, fallback);
  }
  string(name: string, fallback: string): string {
    return stringAttr(this.node, name, fallback);
  }
  /** Axes given as an attribute (older opsets) or a constant input (newer opsets). */
  axes(inputIndex: number): number[] | undefined {
    return axesOf({ node: this.node, inputs: this.node.inputs.map((n) => (n ? this.emit.infos.get(n) : undefined)), opset: this.opset }, inputIndex);
  }
  /** Values of a compile-time-constant input. */
  constantInput(i: number): number[] | undefined {
    const name = this.node.inputs[i];
    return name ? this.emit.infos.get(name)?.values : undefined;
  }
  fail(message: string): never {
    throw new GradientError(`cannot differentiate node '${this.node.name}' (${this.node.opType}): ${message}`);
  }
}

export interface GradRule {
  /** Gradients of inputs may have a broadcast shape: the engine sums them back. */
  broadcasts?: boolean;
  grad(ctx: GradContext): (string | undefined)[];
}
