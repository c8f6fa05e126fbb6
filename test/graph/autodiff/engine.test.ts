import { describe, expect, it } from "vitest";
import { GraphBuilder, attr, makeModel, makeTensor, valueInfo } from "../../../src/graph/onnx/builder.js";
import { encodeModel } from "../../../src/graph/onnx/codec.js";
import { DataType, type Model } from "../../../src/graph/onnx/ir.js";
import { differentiate } from "../../../src/graph/autodiff/engine.js";
import { GradientError } from "../../../src/graph/autodiff/rule.js";

const F = DataType.FLOAT;

/** loss = sum(tanh(x @ W1) @ W2 ) + sum(shape-derived constant), x: [2,3] input, W weights. */
function mlp(extra?: (b: GraphBuilder, h: string) => string): Model {
  const b = new GraphBuilder("", new Set(["x", "loss"]));
  const w1 = b.constant(F, [3, 4], Array.from({ length: 12 }, (_, i) => i / 10), "W1");
  const w2 = b.constant(F, [4, 2], Array.from({ length: 8 }, (_, i) => 1 - i / 5), "W2");
  let h = b.op1("Tanh", [b.op1("MatMul", ["x", w1])]);
  if (extra) h = extra(b, h);
  const y = b.op1("MatMul", [h, w2]);
  const shape = b.op1("Cast", [b.op1("Shape", [y])], { to: attr.int(F) }); // forward-only shape logic
  const s = b.op1("ReduceSum", [y], { keepdims: attr.int(0) });
  b.nodes.push({ name: "loss_node", opType: "Add", domain: "", inputs: [s, b.op1("ReduceSum", [shape], { keepdims: attr.int(0) })], outputs: ["loss"], attributes: {} });
  return makeModel({ name: "mlp", nodes: b.nodes, initializers: b.initializers, inputs: [valueInfo("x", F, ["batch", 3])], outputs: [valueInfo("loss", F, [])], valueInfo: [] }, 17);
}

describe("differentiate", () => {
  it("never computes weight gradients and leaves forward-only shape logic without backward nodes", () => {
    const g = differentiate(mlp(), { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } });
    const backward = g.graph.nodes.filter((n) => n.name.startsWith("grad/") || n.outputs.some((o) => o.startsWith("grad/")));
    const matmuls = backward.filter((n) => n.opType === "MatMul");
    // dx needs g @ W2^T and (.) @ W1^T: exactly two MatMuls, none producing dW.
    expect(matmuls).toHaveLength(2);
    expect(backward.some((n) => n.opType === "Shape")).toBe(false);
    expect(g.graph.outputs.map((o) => o.name)).toEqual(["loss", "x_grad"]);
    expect(g.graph.outputs[1]!.shape).toEqual([2, 3]);
  });

  it("is deterministic: the same model gives byte-identical gradient graphs", () => {
    const a = encodeModel(differentiate(mlp(), { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } }), { externalDataDir: "/" });
    const b = encodeModel(differentiate(mlp(), { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } }), { externalDataDir: "/" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("refuses an op without a rule on the gradient path, naming op and node", () => {
    const model = mlp((b, h) => b.op1("Softsign", [h]));
    expect(() => differentiate(model, { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } })).toThrow(GradientError);
    expect(() => differentiate(model, { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } })).toThrow(/op Softsign \(node 'Softsign_node_\d+'\)/);
  });

  it("refuses an op unknown even to shape inference rather than treating it as constant", () => {
    const model = mlp((b, h) => b.op1("Frobnicate", [h]));
    expect(() => differentiate(model, { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } })).toThrow(/op Frobnicate \(node 'Frobnicate_node_\d+'\) is on the gradient path/);
  });

  it("refuses a custom-domain op (an ORT fused op) on the gradient path, naming it", () => {
    const model = mlp((b, h) => {
      const out = b.op1("FastGelu", [h]);
      b.nodes[b.nodes.length - 1]!.domain = "com.microsoft";
      return out;
    });
    expect(() => differentiate(model, { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } })).toThrow(/op com\.microsoft\.FastGelu \(node 'FastGelu_node_\d+'\)/);
  });

  it("accepts ops without rules off the gradient path", () => {
    const model = mlp();
    const b = new GraphBuilder("side/", new Set());
    const side = b.op1("Relu", [b.constant(F, [2], [1, -1])]);
    model.graph.nodes.push(...b.nodes, { name: "use", opType: "Mul", domain: "", inputs: ["loss", side], outputs: ["other"], attributes: {} });
    model.graph.initializers.push(...b.initializers);
    expect(() => differentiate(model, { wrt: ["x"], loss: "loss", inputShapes: { x: [2, 3] } })).not.toThrow();
  });

  it("refuses a loss that does not depend on the chosen tensor", () => {
    const model = mlp();
    model.graph.initializers.push(makeTensor("unused", F, [1], [0]));
    expect(() => differentiate(model, { wrt: ["unused"], loss: "loss", inputShapes: { x: [2, 3] } })).toThrow(/does not depend on unused/);
  });
});
