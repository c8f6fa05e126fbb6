/**
 * Static type, shape and small-value inference over an IR graph.
 *
 * Differentiation rules need ranks (to transpose the last two axes of a MatMul), some
 * need concrete sizes (pads for Slice, output padding for Conv), and the compiler needs
 * to know which tensors are floating point. Compiled graphs have concrete input shapes,
 * so shapes are propagated as numbers; small integer tensors (shape arithmetic such as
 * Shape -> Gather -> Concat -> Reshape) are evaluated so Reshape targets and Slice
 * bounds become known. Unknown stays unknown (null), never guessed; where the model's
 * own value_info knows more, it is used.
 */
import { OnnxModelError, onnxOpset, type Model } from "./ir.js";
import { constantInfo, type InfoMap, type TensorInfo } from "./tensor-info.js";
import { OP_INFERENCE } from "./infer-ops.js";
import { topologicalOrder } from "./topology.js";

export type { TensorInfo, InfoMap, InferenceInput, OpInference } from "./tensor-info.js";
export { MAX_TRACKED_VALUES, constantInfo } from "./tensor-info.js";

/**
 * Infers every tensor of the graph. `inputShapes` overrides the declared shapes of graph
 * inputs (symbolic dimensions become concrete).
 */
export function inferGraph(model: Model, inputShapes: Record<string, number[]> = {}): InfoMap {
  const graph = model.graph;
  const opset = onnxOpset(model);
  const infos: InfoMap = new Map();
  const declared = new Map(graph.valueInfo.concat(graph.outputs).map((v) => [v.name, v]));
  for (const t of graph.initializers) infos.set(t.name, constantInfo(t));
  for (const v of graph.inputs) {
    if (infos.has(v.name)) continue;
    const given = inputShapes[v.name];
    const shape = given ? [...given] : v.shape?.map((d) => (typeof d === "number" ? d : null));
    infos.set(v.name, shape ? { dataType: v.dataType, shape } : { dataType: v.dataType });
  }
  for (const node of topologicalOrder(graph)) {
    const rule = node.domain === "" ? OP_INFERENCE[node.opType] : undefined;
    const inputs = node.inputs.map((name) => (name === "" ? undefined : infos.get(name)));
    let outs: TensorInfo[] = [];
    if (rule) {
      // A node off the gradient path may be beyond inference (dynamic axes...): record why
      // and go on; only a rule that needs the missing facts will fail, naming this reason.
      try {
        outs = rule({ node, inputs, opset });
      } catch (error) {
        const reason = `shape inference failed at node '${node.name}' (${node.opType}): ${error instanceof Error ? error.message : String(error)}`;
        outs = node.outputs.map(() => ({ dataType: 0, error: reason }));
      }
    }
    node.outputs.forEach((name, i) => {
      if (name === "") return;
      let info: TensorInfo = outs[i] ?? { dataType: 0 };
      const known = declared.get(name);
      if (known) info = mergeDeclared(info, known.dataType, known.shape?.map((d) => (typeof d === "number" ? d : null)));
      infos.set(name, info);
    });
  }
  return infos;
}

function mergeDeclared(info: TensorInfo, dataType: number, shape: (number | null)[] | undefined): TensorInfo {
  const out: TensorInfo = { ...info, dataType: info.dataType || dataType };
  if (!out.shape && shape) out.shape = shape;
  else if (out.shape && shape && shape.length === out.shape.length) out.shape = out.shape.map((d, i) => d ?? shape[i] ?? null);
  return out;
}

/** The shape of a tensor with every size known, or an error naming the tensor. */
export function staticShape(infos: InfoMap, name: string): number[] {
  const shape = infos.get(name)?.shape;
  if (!shape || shape.some((d) => d === null)) throw new OnnxModelError(`the shape of '${name}' is not known at compile time${because(infos.get(name))}`);
  return shape as number[];
}

export function rankOf(infos: InfoMap, name: string): number {
  const shape = infos.get(name)?.shape;
  if (!shape) throw new OnnxModelError(`the rank of '${name}' is not known at compile time${because(infos.get(name))}`);
  return shape.length;
}

export function because(info: TensorInfo | undefined): string {
  return info?.error ? ` (${info.error})` : "";
}
