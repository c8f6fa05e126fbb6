/**
 * The text encoder with learned concept vectors, for generation: the same substitution
 * of the token-embedding lookup as the training graphs (id >= V reads concept[id - V]),
 * forward only, output `last_hidden_state`. Exports take input_ids only, so the vectors
 * cannot be fed as inputs_embeds; this graph is the way to condition on them.
 */
import * as fs from "node:fs";
import { pruneToOutputs } from "../autodiff/engine.js";
import { GraphBuilder, valueInfo } from "../onnx/builder.js";
import { BYTES_PER_ELEMENT, DataType, OnnxModelError, type Model, type TensorValue } from "../onnx/ir.js";
import { input, renamed, substituteEmbedding, TI } from "./join.js";

export interface ConceptTextEncoder {
  /** Inputs `input_ids` [B, L] and `concept` [k, H]; output `last_hidden_state` [B, L, H]. */
  model: Model;
  vocabSize: number;
  hiddenSize: number;
  idsType: number;
}

export const LAST_HIDDEN_STATE = "last_hidden_state";

export function textEncoderWithConcepts(textEncoder: Model): ConceptTextEncoder {
  const idsInfo = input(textEncoder.graph, "input_ids", "the text encoder");
  const hiddenName = (textEncoder.graph.outputs.find((o) => o.name === LAST_HIDDEN_STATE) ?? textEncoder.graph.outputs[0]!).name;
  const te = renamed(textEncoder.graph, "text_encoder/", { input_ids: TI.inputIds, [hiddenName]: LAST_HIDDEN_STATE });
  const b = new GraphBuilder("ti/", new Set(te.nodes.flatMap((n) => [...n.outputs, n.name])));
  const { vocabSize, hiddenSize } = substituteEmbedding(te, b);
  const graph = pruneToOutputs({
    ...te,
    name: "text_encoder_with_concepts",
    nodes: [...te.nodes, ...b.nodes],
    initializers: [...te.initializers, ...b.initializers],
    inputs: [valueInfo(TI.inputIds, idsInfo.dataType, ["batch", "tokens"]), valueInfo(TI.concept, DataType.FLOAT, ["concepts", hiddenSize])],
    outputs: [valueInfo(LAST_HIDDEN_STATE, DataType.FLOAT, ["batch", "tokens", hiddenSize])],
  });
  return { model: { ...textEncoder, graph }, vocabSize, hiddenSize, idsType: idsInfo.dataType };
}

/** The text encoder's token-embedding table [V, H] (the initializer the id lookup reads). */
export function tokenEmbeddingTable(textEncoder: Model): TensorValue {
  const copy = renamed(textEncoder.graph, "", {});
  return substituteEmbedding(copy, new GraphBuilder("probe/", new Set(copy.nodes.flatMap((n) => [...n.outputs, n.name])))).table;
}

/** Rows `ids` of a float32 [V, H] table, read from its inline bytes or its file. */
export function readTableRows(table: TensorValue, ids: readonly number[]): Float32Array {
  const [rows, width] = table.dims as [number, number];
  if (table.dataType !== DataType.FLOAT) throw new OnnxModelError(`table '${table.name}' is not float32`);
  const rowBytes = width * BYTES_PER_ELEMENT[DataType.FLOAT]!;
  const out = new Float32Array(ids.length * width);
  ids.forEach((id, r) => {
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new OnnxModelError(`row ${id} is outside the table's ${rows} rows`);
    let bytes: Uint8Array;
    if (table.payload.kind === "inline") {
      bytes = table.payload.bytes.subarray(id * rowBytes, (id + 1) * rowBytes);
    } else {
      const fd = fs.openSync(table.payload.file, "r");
      try {
        bytes = new Uint8Array(rowBytes);
        fs.readSync(fd, bytes, 0, rowBytes, table.payload.offset + id * rowBytes);
      } finally {
        fs.closeSync(fd);
      }
    }
    out.set(new Float32Array(new Uint8Array(bytes).buffer), r * width);
  });
  return out;
}
