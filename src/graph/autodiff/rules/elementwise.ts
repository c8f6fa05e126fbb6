/** Gradient rules of elementwise ops. g is the gradient of the output y. */
import { attr } from "../../onnx/builder.js";
import type { GradRule } from "../rule.js";

export const elementwiseRules: Record<string, GradRule> = {
  // y = a + b: da = g, db = g
  Add: { broadcasts: true, grad: (c) => [c.dy(), c.dy()] },
  // y = a - b: da = g, db = -g
  Sub: { broadcasts: true, grad: (c) => [c.dy(), c.needs(1) ? c.emit.neg(c.dy()!) : undefined] },
  // y = a * b: da = g b, db = g a
  Mul: {
    broadcasts: true,
    grad: (c) => [c.needs(0) ? c.emit.mul(c.dy()!, c.input(1)) : undefined, c.needs(1) ? c.emit.mul(c.dy()!, c.input(0)) : undefined],
  },
  // y = a / b: da = g / b, db = -g a / b^2 = -g y / b
  Div: {
    broadcasts: true,
    grad: (c) => {
      const e = c.emit, g = c.dy()!;
      const ga = c.needs(0) || c.needs(1) ? e.div(g, c.input(1)) : undefined;
      return [c.needs(0) ? ga : undefined, c.needs(1) ? e.neg(e.mul(ga!, c.output(0))) : undefined];
    },
  },
  // y = a^b: da = g b a^(b-1), db = g y ln(a)
  Pow: {
    broadcasts: true,
    grad: (c) => {
      const e = c.emit, g = c.dy()!, a = c.input(0), b = c.input(1);
      let da: string | undefined;
      if (c.needs(0)) {
        const exponent = c.constantInput(1);
        const bMinus1 = exponent?.length === 1 ? e.scalar(exponent[0]! - 1, a) : e.sub(e.op1("Cast", [b], { to: attr.int(e.info(a).dataType) }), e.scalar(1, a));
        const bCast = exponent?.length === 1 ? e.scalar(exponent[0]!, a) : e.op1("Cast", [b], { to: attr.int(e.info(a).dataType) });
        da = e.mul(e.mul(g, bCast), e.op1("Pow", [a, bMinus1]));
      }
      const db = c.needs(1) ? e.mul(e.mul(g, c.output(0)), e.op1("Log", [a])) : undefined;
      return [da, db];
    },
  },
  // y = sqrt(x): dx = g / (2 y)
  Sqrt: { grad: (c) => [c.emit.div(c.emit.mul(c.dy()!, c.emit.scalar(0.5, c.input(0))), c.output(0))] },
  // y = -x: dx = -g
  Neg: { grad: (c) => [c.emit.neg(c.dy()!)] },
  // y = erf(x): dx = g 2/sqrt(pi) exp(-x^2)
  Erf: {
    grad: (c) => {
      const e = c.emit, x = c.input(0);
      const bell = e.op1("Exp", [e.neg(e.mul(x, x))]);
      return [e.mul(c.dy()!, e.mul(bell, e.scalar(2 / Math.sqrt(Math.PI), x)))];
    },
  },
  // y = sigmoid(x): dx = g y (1 - y)
  Sigmoid: {
    grad: (c) => {
      const e = c.emit, y = c.output(0);
      return [e.mul(c.dy()!, e.mul(y, e.sub(e.scalar(1, y), y)))];
    },
  },
  // y = tanh(x): dx = g (1 - y^2)
  Tanh: {
    grad: (c) => {
      const e = c.emit, y = c.output(0);
      return [e.mul(c.dy()!, e.sub(e.scalar(1, y), e.mul(y, y)))];
    },
  },
  // y = where(cond, a, b): da = where(cond, g, 0), db = where(cond, 0, g)
  Where: {
    broadcasts: true,
    grad: (c) => {
      const e = c.emit, g = c.dy()!, zero = e.scalar(0, g), cond = c.input(0);
      return [undefined, c.needs(1) ? e.op1("Where", [cond, g, zero]) : undefined, c.needs(2) ? e.op1("Where", [cond, zero, g]) : undefined];
    },
  },
  // y = broadcast of x to a shape: dx = g summed back over the broadcast axes (by the engine)
  Expand: { broadcasts: true, grad: (c) => [c.dy()] },
  // y = cast(x): dx = cast(g) back to x's float type
  Cast: {
    grad: (c) => {
      const from = c.emit.info(c.input(0)).dataType;
      return [c.emit.op1("Cast", [c.dy()!], { to: attr.int(from) })];
    },
  },
  // y = x_1 + ... + x_n: dx_i = g
  Sum: { broadcasts: true, grad: (c) => c.node.inputs.map(() => c.dy()) },
  // y = max(x, 0): dx = g where x > 0, else 0
  Relu: {
    grad: (c) => {
      const e = c.emit, x = c.input(0);
      return [e.op1("Where", [e.op1("Greater", [x, e.scalar(0, x)]), c.dy()!, e.scalar(0, x)])];
    },
  },
  // y = exp(x): dx = g y
  Exp: { grad: (c) => [c.emit.mul(c.dy()!, c.output(0))] },
  // y = ln(x): dx = g / x
  Log: { grad: (c) => [c.emit.div(c.dy()!, c.input(0))] },
  // y = 1 / x: dx = -g y^2
  Reciprocal: {
    grad: (c) => {
      const e = c.emit, y = c.output(0);
      return [e.neg(e.mul(c.dy()!, e.mul(y, y)))];
    },
  },
  // y = x: dx = g
  Identity: { grad: (c) => [c.dy()] },
  // inference-mode Dropout is the identity
  Dropout: { grad: (c) => [c.dy()] },
};
