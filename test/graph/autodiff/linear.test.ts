import { describe, expect, it } from "vitest";
import { attr } from "../../../src/graph/onnx/builder.js";
import { gradCheck, type OpCase } from "./gradcheck.js";

// float64 kernels throughout: central differences with h = 1e-6.
const TOL = 1e-6;

const matmul = (a: number[], b: number[]): OpCase => ({ inputs: { a: { shape: a }, b: { shape: b } }, build: (g, n) => g.op1("MatMul", [n.a!, n.b!]) });

const gemm = (transA: number, transB: number, cShape: number[], alpha = 1.5, beta = 0.5): OpCase => ({
  inputs: { a: { shape: transA ? [4, 2] : [2, 4] }, b: { shape: transB ? [3, 4] : [4, 3] }, c: { shape: cShape } },
  build: (g, n) => g.op1("Gemm", [n.a!, n.b!, n.c!], { transA: attr.int(transA), transB: attr.int(transB), alpha: attr.float(alpha), beta: attr.float(beta) }),
});

const einsum = (equation: string, shapes: number[][]): OpCase => ({
  inputs: Object.fromEntries(shapes.map((s, i) => [`x${i}`, { shape: s }])),
  build: (g, n) => g.op1("Einsum", shapes.map((_, i) => n[`x${i}`]!), { equation: attr.string(equation) }),
});

describe("matrix product gradient rules (finite differences)", () => {
  const cases: [string, OpCase][] = [
    ["MatMul 2-D", matmul([2, 3], [3, 4])],
    ["MatMul batched 3-D", matmul([2, 2, 3], [2, 3, 2])],
    ["MatMul 4-D attention-like", matmul([1, 2, 3, 2], [1, 2, 2, 3])],
    ["MatMul broadcasting batch [2,3,4] @ [4,2]", matmul([2, 3, 4], [4, 2])],
    ["MatMul broadcasting batch [2,1,2,3] @ [3,3,2]", matmul([2, 1, 2, 3], [3, 3, 2])],
    ["MatMul 1-D @ 3-D", matmul([3], [2, 3, 4])],
    ["MatMul 3-D @ 1-D", matmul([2, 4, 3], [3])],
    ["MatMul 1-D @ 1-D (dot product)", matmul([3], [3])],
    ["Gemm", gemm(0, 0, [2, 3])],
    ["Gemm transA", gemm(1, 0, [3])],
    ["Gemm transB", gemm(0, 1, [1, 3])],
    ["Gemm transA transB", gemm(1, 1, [2, 1])],
    ["Einsum attention scores bhid,bhjd->bhij", einsum("bhid,bhjd->bhij", [[1, 2, 3, 2], [1, 2, 2, 2]])],
    ["Einsum attention values bhij,bhjd->bhid", einsum("bhij,bhjd->bhid", [[1, 2, 3, 2], [1, 2, 2, 2]])],
    ["Einsum with ellipsis ...ij,...jk->...ik", einsum("...ij,...jk->...ik", [[2, 2, 3], [2, 3, 2]])],
    ["Einsum transpose-sum ij->j", einsum("ij,j->ij", [[2, 3], [3]])],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.gradientNorm).toBeGreaterThan(0);
      expect(r.relativeError).toBeLessThan(TOL);
    });
  }

  it("refuses an Einsum index summed inside one operand", async () => {
    await expect(gradCheck(einsum("ij,jk->k", [[2, 3], [3, 2]]))).rejects.toThrow(/Einsum.*index 'i'/);
  });
});
