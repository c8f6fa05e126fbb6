/**
 * Reverse-mode differentiation of an ONNX graph with respect to chosen tensors.
 *
 * 1. Infer types and shapes (../onnx/infer.ts) with the given concrete input shapes.
 * 2. Forward sweep in topological order: a tensor is active when it depends on a `wrt`
 *    tensor and is floating point (integer/bool outputs such as Shape never carry gradients).
 * 3. Backward sweep: a node is on the gradient path when one of its outputs reaches the
 *    loss and one of its inputs is active. Everything else (weights, shape logic, the
 *    timestep embedding) gets no backward nodes.
 * 4. In reverse topological order, each node on the path gets its rule from the registry;
 *    the engine sums gradients arriving from several consumers (one Sum node) and sums
 *    broadcast gradients back to the input's shape. Both sweeps are loops, not recursion,
 *    and follow file order, so the output graph is deterministic.
 * 5. The result keeps the forward graph, appends the backward nodes, exposes the loss and
 *    the gradients as outputs and drops nodes no output needs.
 */
import { namesIn, valueInfo } from "../onnx/builder.js";
import { inferGraph } from "../onnx/infer.js";
import { isFloatType, onnxOpset, type Graph, type Model, type Node } from "../onnx/ir.js";
import { topologicalOrder } from "../onnx/topology.js";
import { Emitter } from "./emitter.js";
import { GradContext, GradientError } from "./rule.js";
import { GRADIENT_RULES } from "./rules/index.js";

export interface DifferentiateOptions {
  /** Tensors to differentiate with respect to (usually graph inputs). */
  wrt: string[];
  /** The tensor to differentiate (any shape; its gradient seed is all ones). */
  loss: string;
  /** Output names of the gradients, in `wrt` order. Default: `<wrt>_grad`. */
  gradNames?: string[];
  /** Other forward tensors to keep as outputs. */
  keepOutputs?: string[];
  /** Concrete shapes for graph inputs with symbolic dimensions. */
  inputShapes?: Record<string, number[]>;
}

export function differentiate(model: Model, options: DifferentiateOptions): Model {
  const graph = model.graph;
  const opset = onnxOpset(model);
  if (opset < 13) throw new GradientError(`opset ${opset} is not supported (13 or newer needed)`);
  const infos = inferGraph(model, options.inputShapes);
  const order = topologicalOrder(graph);
  // Unknown type (an op inference does not know) counts as float: such a node on the path
  // must be refused for lack of a rule, never silently treated as constant.
  const isFloat = (name: string) => {
    const t = infos.get(name)?.dataType ?? 0;
    return t === 0 || isFloatType(t);
  };

  const active = new Set(options.wrt);
  for (const w of options.wrt) if (!infos.has(w)) throw new GradientError(`'${w}' is not a tensor of the graph`);
  for (const node of order) {
    if (node.inputs.some((n) => active.has(n))) for (const o of node.outputs) if (o && isFloat(o)) active.add(o);
  }
  if (!active.has(options.loss)) throw new GradientError(`the loss '${options.loss}' does not depend on ${options.wrt.join(", ")}`);

  const reaches = new Set([options.loss]);
  const onPath: Node[] = [];
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    if (!node.outputs.some((o) => reaches.has(o)) || !node.inputs.some((n) => active.has(n))) continue;
    onPath.push(node);
    for (const n of node.inputs) if (active.has(n)) reaches.add(n);
  }

  for (let i = onPath.length - 1; i >= 0; i--) ruleFor(onPath[i]!);

  const emit = new Emitter(infos, opset, namesIn(graph));
  const contributions = new Map<string, string[]>();
  const addContribution = (name: string, grad: string) => {
    const list = contributions.get(name) ?? [];
    list.push(grad);
    contributions.set(name, list);
  };
  const gradientOf = (name: string): string | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) contributions.set(name, [emit.op1("Sum", list)]);
    return contributions.get(name)![0];
  };

  const lossShape = emit.staticShape(options.loss);
  addContribution(options.loss, emit.op1("Expand", [emit.scalar(1, options.loss), emit.ints(lossShape)]));

  for (const node of onPath) {
    const rule = ruleFor(node);
    const outputGrads = node.outputs.map((o) => (reaches.has(o) && active.has(o) ? gradientOf(o) : undefined));
    const wanted = node.inputs.map((n) => n !== "" && active.has(n) && reaches.has(n));
    const grads = rule.grad(new GradContext(node, emit, outputGrads, wanted));
    node.inputs.forEach((input, i) => {
      if (!wanted[i]) return;
      const g = grads[i];
      if (!g) throw new GradientError(`the rule for ${node.opType} gave no gradient for input ${i} of node '${node.name}'`);
      if (!rule.broadcasts && !emit.info(g).shape) emit.infos.set(g, { ...emit.info(input), values: undefined });
      addContribution(input, rule.broadcasts ? sumToShape(emit, g, input) : g);
    });
  }

  const gradNames = options.gradNames ?? options.wrt.map((w) => `${w}_grad`);
  const backward = emit.builder;
  const outputs = [valueInfo(options.loss, infos.get(options.loss)!.dataType, lossShape)];
  for (const name of options.keepOutputs ?? []) outputs.push(valueInfo(name, infos.get(name)?.dataType ?? 0, infos.get(name)?.shape ?? undefined));
  options.wrt.forEach((w, i) => {
    const g = gradientOf(w);
    if (!g) throw new GradientError(`the loss does not depend on '${w}'`);
    backward.nodes.push({ name: `${gradNames[i]}_identity`, opType: "Identity", domain: "", inputs: [g], outputs: [gradNames[i]!], attributes: {} });
    outputs.push(valueInfo(gradNames[i]!, infos.get(w)!.dataType, emit.staticShape(w)));
  });

  const joined: Graph = {
    ...graph,
    nodes: [...graph.nodes, ...backward.nodes],
    initializers: [...graph.initializers, ...backward.initializers],
    outputs,
    valueInfo: [],
  };
  return { ...model, graph: pruneToOutputs(joined) };
}

function ruleFor(node: Node) {
  const rule = node.domain === "" ? GRADIENT_RULES[node.opType] : undefined;
  if (!rule) {
    const op = node.domain === "" ? node.opType : `${node.domain}.${node.opType}`;
    throw new GradientError(`op ${op} (node '${node.name}') is on the gradient path and has no gradient rule`);
  }
  return rule;
}

/** Sums a gradient with a broadcast shape back to the shape of `input` (static shapes). */
function sumToShape(e: Emitter, grad: string, input: string): string {
  const target = e.staticShape(input), shape = e.staticShape(grad);
  if (target.length === shape.length && target.every((d, i) => d === shape[i])) return grad;
  const lead = shape.length - target.length;
  const axes = shape.flatMap((d, i) => (i < lead || (target[i - lead] === 1 && d !== 1) ? [i] : []));
  const summed = axes.length > 0 ? e.reduceSum(grad, axes, true) : grad;
  return e.op1("Reshape", [summed, e.ints(target)]);
}

/** Keeps only the nodes and initializers some graph output depends on. */
export function pruneToOutputs(graph: Graph): Graph {
  const needed = new Set(graph.outputs.map((o) => o.name));
  const order = topologicalOrder(graph);
  const kept: Node[] = [];
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const n of node.inputs) needed.add(n);
  }
  kept.reverse();
  return { ...graph, nodes: kept, initializers: graph.initializers.filter((t) => needed.has(t.name)) };
}
