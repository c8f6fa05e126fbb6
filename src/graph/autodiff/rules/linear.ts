/** Gradient rules of the matrix products: MatMul, Gemm, Einsum. */
import { attr } from "../../onnx/builder.js";
import type { Emitter } from "../emitter.js";
import type { GradContext, GradRule } from "../rule.js";

/** Swaps the last two axes of a tensor of known rank. */
function swapLast(e: Emitter, x: string): string {
  const r = e.rank(x);
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return e.transpose(x, perm);
}

export const linearRules: Record<string, GradRule> = {
  // y = a @ b (batched, broadcasting): da = g @ b^T, db = a^T @ g; the engine sums broadcast batch axes.
  // A 1-D a is a row [1, K] and a 1-D b a column [K, 1], as numpy defines it; their unit axis
  // is restored in g first and dropped from the gradient after.
  MatMul: {
    broadcasts: true,
    grad: (c) => {
      const e = c.emit;
      const rowA = e.rank(c.input(0)) === 1, colB = e.rank(c.input(1)) === 1;
      const a = rowA ? e.unsqueeze(c.input(0), [0]) : c.input(0);
      const b = colB ? e.unsqueeze(c.input(1), [1]) : c.input(1);
      let g = c.dy()!;
      if (rowA) g = e.unsqueeze(g, [-1 - (colB ? 0 : 1)]);
      if (colB) g = e.unsqueeze(g, [-1]);
      const drop = (t: string, axis: number) => e.op1("Squeeze", [t, e.ints([axis])]);
      const da = c.needs(0) ? e.op1("MatMul", [g, swapLast(e, b)]) : undefined;
      const db = c.needs(1) ? e.op1("MatMul", [swapLast(e, a), g]) : undefined;
      return [da && rowA ? drop(da, -2) : da, db && colB ? drop(db, -1) : db];
    },
  },
  // y = alpha op(a) op(b) + beta c, op = optional transpose:
  //   d op(a) = alpha g op(b)^T, d op(b) = alpha op(a)^T g, dc = beta g (summed to c's shape by the engine)
  Gemm: {
    broadcasts: true,
    grad: (c) => {
      const e = c.emit, g = c.dy()!, a = c.input(0), b = c.input(1);
      const alpha = c.float("alpha", 1), beta = c.float("beta", 1);
      const tA = c.int("transA", 0), tB = c.int("transB", 0);
      const gemm = (x: string, y: string, transX: number, transY: number) =>
        e.op1("Gemm", [x, y], { alpha: attr.float(alpha), transA: attr.int(transX), transB: attr.int(transY) });
      const da = !c.needs(0) ? undefined : tA ? gemm(b, g, tB, 1) : gemm(g, b, 0, tB ? 0 : 1);
      const db = !c.needs(1) ? undefined : tB ? gemm(g, a, 1, tA) : gemm(a, g, tA ? 0 : 1, 0);
      const dc = c.needs(2) ? (beta === 1 ? g : e.mul(g, e.scalar(beta, g))) : undefined;
      return [da, db, dc];
    },
  },
  // y = einsum(eq, x_1..x_n): dx_i = einsum(out, x_j (j != i) -> term_i)(g, ...), when every
  // letter of term_i appears in the output or another operand (no diagonals, no private sums).
  Einsum: { broadcasts: true, grad: einsumGrad },
};

function einsumGrad(c: GradContext): (string | undefined)[] {
  const eq = c.string("equation", "").replace(/\s/g, "");
  const [lhs, out] = eq.split("->");
  if (out === undefined) c.fail("an Einsum equation without '->' is not supported");
  const terms = lhs!.split(",");
  return terms.map((term, i) => {
    if (!c.needs(i)) return undefined;
    const others = terms.filter((_, j) => j !== i);
    const letters = term.replace("...", "");
    if (new Set(letters).size !== letters.length) c.fail(`repeated index in '${term}' (a diagonal) is not supported`);
    const available = out + others.join("");
    for (const ch of letters) if (!available.includes(ch)) c.fail(`index '${ch}' of '${term}' is summed over in that operand alone`);
    if (term.includes("...") && !out.includes("...")) c.fail("an ellipsis reduced away is not supported");
    const equation = `${[out, ...others].join(",")}->${term}`;
    const inputs = [c.dy()!, ...c.node.inputs.filter((_, j) => j !== i)];
    return c.emit.op1("Einsum", inputs, { equation: attr.string(equation) });
  });
}
