/**
 * Joins text encoder and UNet into one forward graph for textual inversion:
 *
 *   input_ids [B,L] -> token embedding, where id >= V reads concept[id - V] -> text encoder
 *   -> encoder_hidden_states -> UNet(noisy_latents, timesteps, .) -> prediction
 *   -> squared error against target -> loss (mean of all elements) and sample_losses [B].
 *
 * Both models are copied under name prefixes, so nothing collides. Export conventions
 * handled: int32/int64 ids (with or without a Cast before the lookup), UNet timestep
 * int64/float [B], or a float scalar that the graph broadcasts to the batch (rewired so
 * each sample gets its own timestep). Anything else is refused with a clear error.
 */
import { GraphBuilder, attr, valueInfo } from "../onnx/builder.js";
import { DataType, OnnxModelError, onnxOpset, type Graph, type Model, type Node, type TensorValue, type ValueInfo } from "../onnx/ir.js";

export interface JoinedModel {
  model: Model;
  /** Vocabulary size V of the token embedding table; concept j is id V + j. */
  vocabSize: number;
  hiddenSize: number;
  idsType: number;
  timestepType: number;
}

/** Graph-level names of the joined model. */
export const TI = {
  inputIds: "input_ids",
  concept: "concept",
  noisyLatents: "noisy_latents",
  timesteps: "timesteps",
  target: "target",
  loss: "loss",
  sampleLosses: "sample_losses",
  grad: "grad",
} as const;

export function renamed(graph: Graph, prefix: string, wiring: Record<string, string>): Graph {
  const map = (n: string) => (n === "" ? "" : (wiring[n] ?? prefix + n));
  const nodes: Node[] = graph.nodes.map((n) => {
    if (Object.values(n.attributes).some((a) => a.type === "graph")) throw new OnnxModelError(`node '${n.name}' (${n.opType}) has a subgraph: not supported`);
    return { ...n, name: prefix + n.name, inputs: n.inputs.map(map), outputs: n.outputs.map(map) };
  });
  return {
    name: graph.name,
    nodes,
    initializers: graph.initializers.map((t) => ({ ...t, name: map(t.name) })),
    inputs: graph.inputs.map((v) => ({ ...v, name: map(v.name) })),
    outputs: graph.outputs.map((v) => ({ ...v, name: map(v.name) })),
    valueInfo: [],
  };
}

export function input(graph: Graph, name: string, what: string): ValueInfo {
  const v = graph.inputs.find((i) => i.name === name);
  if (!v) throw new OnnxModelError(`${what} has no input '${name}' (inputs: ${graph.inputs.map((i) => i.name).join(", ")})`);
  return v;
}

const ID_PRESERVING = new Set(["Cast", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten"]);

/** Replaces the token-embedding Gather (table [V,H] indexed by input_ids, possibly through Casts). */
export function substituteEmbedding(graph: Graph, b: GraphBuilder): { vocabSize: number; hiddenSize: number; table: TensorValue } {
  // The lookup may read the ids through casts and reshapes (transformers' input_ids.view(-1, L)).
  const idsLike = new Set<string>([TI.inputIds]);
  for (const n of graph.nodes) if (ID_PRESERVING.has(n.opType) && idsLike.has(n.inputs[0]!)) idsLike.add(n.outputs[0]!);
  const tables = new Map(graph.initializers.map((t) => [t.name, t]));
  const lookups = graph.nodes.filter((n) => n.opType === "Gather" && idsLike.has(n.inputs[1]!) && tables.get(n.inputs[0]!)?.dims.length === 2);
  if (lookups.length !== 1) throw new OnnxModelError(`expected one token-embedding Gather reading input_ids in the text encoder, found ${lookups.length}`);
  const gather = lookups[0]!;
  const table = tables.get(gather.inputs[0]!)!;
  if (table.dataType !== DataType.FLOAT) throw new OnnxModelError("only float32 text encoders are supported");
  const [vocabSize, hiddenSize] = table.dims as [number, number];
  const ids = b.op1("Cast", [gather.inputs[1]!], { to: attr.int(DataType.INT64) });
  const v = b.scalar(DataType.INT64, vocabSize);
  const zero = b.scalar(DataType.INT64, 0);
  const isConcept = b.op1("GreaterOrEqual", [ids, v]);
  const tokenEmbedding = b.op1("Gather", [table.name, b.op1("Where", [isConcept, zero, ids])]);
  const conceptEmbedding = b.op1("Gather", [TI.concept, b.op1("Where", [isConcept, b.op1("Sub", [ids, v]), zero])]);
  const mask = b.op1("Unsqueeze", [isConcept, b.ints([-1])]);
  b.nodes.push({ name: "ti/embedding", opType: "Where", domain: "", inputs: [mask, conceptEmbedding, tokenEmbedding], outputs: [gather.outputs[0]!], attributes: {} });
  graph.nodes.splice(graph.nodes.indexOf(gather), 1, ...b.nodes.splice(0));
  return { vocabSize, hiddenSize, table };
}

/**
 * A float scalar timestep that the graph broadcasts to the batch (diffusers:
 * `timesteps[None].expand(B)`) is rewired to the per-sample `timesteps` input: the node
 * that makes the scalar a vector (Unsqueeze, Reshape or Expand) is dropped and its users
 * read the vector instead; Casts on the way are kept and now cast the vector.
 */
function perSampleTimestep(graph: Graph, scalarName: string): void {
  const pending: [string, string][] = [[scalarName, TI.timesteps]]; // [scalar tensor, vector replacing it]
  const dropped = new Set<Node>();
  while (pending.length > 0) {
    const [scalar, vector] = pending.shift()!;
    for (const n of graph.nodes.filter((m) => m.inputs.includes(scalar))) {
      if (n.opType === "Cast") {
        n.inputs = n.inputs.map((i) => (i === scalar ? vector : i));
        pending.push([n.outputs[0]!, n.outputs[0]!]);
      } else if (n.opType === "Unsqueeze" || n.opType === "Reshape" || n.opType === "Expand") {
        const out = n.outputs[0]!;
        for (const m of graph.nodes) m.inputs = m.inputs.map((i) => (i === out ? vector : i));
        dropped.add(n);
      } else {
        throw new OnnxModelError(`cannot give each sample its own timestep: the scalar UNet timestep feeds ${n.opType} node '${n.name}'`);
      }
    }
  }
  graph.nodes = graph.nodes.filter((n) => !dropped.has(n));
}

export function joinForTextualInversion(textEncoder: Model, unet: Model): JoinedModel {
  const opset = onnxOpset(textEncoder);
  if (onnxOpset(unet) !== opset) throw new OnnxModelError(`text encoder (opset ${opset}) and UNet (opset ${onnxOpset(unet)}) must share one opset`);
  const idsInfo = input(textEncoder.graph, "input_ids", "the text encoder");
  const hiddenName = (textEncoder.graph.outputs.find((o) => o.name === "last_hidden_state") ?? textEncoder.graph.outputs[0]!).name;
  for (const name of ["sample", "timestep", "encoder_hidden_states"]) input(unet.graph, name, "the UNet");
  const initializers = (m: Model) => new Set(m.graph.initializers.map((t) => t.name));
  const extra = [
    ...textEncoder.graph.inputs.filter((i) => i.name !== "input_ids" && !initializers(textEncoder).has(i.name)).map((i) => `text encoder input '${i.name}'`),
    ...unet.graph.inputs.filter((i) => !["sample", "timestep", "encoder_hidden_states"].includes(i.name) && !initializers(unet).has(i.name)).map((i) => `UNet input '${i.name}'`),
  ];
  if (extra.length > 0) throw new OnnxModelError(`unsupported model inputs (SD 1.x/2.x pipelines only): ${extra.join(", ")}`);
  if (input(unet.graph, "sample", "the UNet").dataType !== DataType.FLOAT) throw new OnnxModelError("only float32 UNets are supported");
  const t = input(unet.graph, "timestep", "the UNet");
  const scalarTimestep = t.shape !== undefined && t.shape.length === 0;
  if (scalarTimestep && t.dataType !== DataType.FLOAT) throw new OnnxModelError("a scalar UNet timestep must be float32");

  const te = renamed(textEncoder.graph, "text_encoder/", { input_ids: TI.inputIds });
  const un = renamed(unet.graph, "unet/", {
    sample: TI.noisyLatents,
    encoder_hidden_states: "text_encoder/" + hiddenName,
    ...(scalarTimestep ? {} : { timestep: TI.timesteps }),
  });
  const b = new GraphBuilder("ti/", new Set([...te.nodes, ...un.nodes].flatMap((n) => [...n.outputs, n.name])));
  const { vocabSize, hiddenSize } = substituteEmbedding(te, b);
  if (scalarTimestep) perSampleTimestep(un, "unet/timestep");

  const prediction = un.outputs[0]!.name;
  const diff = b.op1("Sub", [prediction, TI.target]);
  const squared = b.op1("Mul", [diff, diff]);
  b.nodes.push({ name: "ti/loss", opType: "ReduceMean", domain: "", inputs: [squared], outputs: [TI.loss], attributes: { keepdims: attr.int(0) } });
  // ReduceMean takes its axes as an attribute before opset 18 and as an input from 18 on.
  const sampleLosses: Node =
    opset >= 18
      ? { name: "ti/sample_losses", opType: "ReduceMean", domain: "", inputs: [squared, b.ints([1, 2, 3])], outputs: [TI.sampleLosses], attributes: { keepdims: attr.int(0) } }
      : { name: "ti/sample_losses", opType: "ReduceMean", domain: "", inputs: [squared], outputs: [TI.sampleLosses], attributes: { axes: attr.ints([1, 2, 3]), keepdims: attr.int(0) } };
  b.nodes.push(sampleLosses);

  const latentShape = un.inputs.find((i) => i.name === TI.noisyLatents)!.shape;
  const graph: Graph = {
    name: "textual_inversion",
    nodes: [...te.nodes, ...un.nodes, ...b.nodes],
    initializers: [...te.initializers, ...un.initializers, ...b.initializers],
    inputs: [
      valueInfo(TI.inputIds, idsInfo.dataType, ["batch", "tokens"]),
      valueInfo(TI.concept, DataType.FLOAT, ["concepts", hiddenSize]),
      valueInfo(TI.noisyLatents, DataType.FLOAT, latentShape),
      valueInfo(TI.timesteps, t.dataType, ["batch"]),
      valueInfo(TI.target, DataType.FLOAT, latentShape),
    ],
    outputs: [valueInfo(TI.loss, DataType.FLOAT, []), valueInfo(TI.sampleLosses, DataType.FLOAT, ["batch"])],
    valueInfo: [],
  };
  const model: Model = {
    irVersion: Math.max(textEncoder.irVersion, unet.irVersion),
    producerName: "dvar-inversion textual-inversion compiler",
    opsets: { ...textEncoder.opsets, ...unet.opsets },
    graph,
  };
  return { model, vocabSize, hiddenSize, idsType: idsInfo.dataType, timestepType: t.dataType };
}
