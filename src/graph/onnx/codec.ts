/**
 * ONNX protobuf bytes <-> the IR in ./ir.ts.
 *
 * Reading: external-data tensors become file references resolved against the model's
 * directory; inline `raw_data` larger than `inlineLimit` becomes a reference into the
 * model file itself (offset of the bytes in that file), so a 500 MB text encoder is
 * never copied. Writing: file references become ONNX external data with locations
 * relative to `externalDataDir`.
 *
 * Where compiled graphs live: onnxruntime (1.30) canonicalises external-data paths
 * (symlinks resolved) and refuses any that leave the model file's folder, or, for a
 * model loaded from bytes, the folder named by the session option
 * `session.model_external_initializers_file_folder_path`. Compiled graphs are
 * therefore encoded with locations relative to the pipeline's root folder
 * (`unet/model.onnx_data`, `text_encoder/model.onnx` at a byte offset) and loaded from
 * bytes with that folder set (src/runtime/session.ts), so they can be cached anywhere
 * and nothing is written into, or linked to, the user's model folder.
 */
import * as path from "node:path";
import protobuf from "protobufjs";
import { ONNX_PROTO_SUBSET } from "./schema.js";
import {
  BYTES_PER_ELEMENT,
  OnnxModelError,
  elementCount,
  type AttributeValue,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type TensorValue,
  type ValueInfo,
} from "./ir.js";

const root = protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root;
const ModelProto = root.lookupType("onnx.ModelProto");

/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs messages are untyped reflection objects. */
type Msg = any;

function num(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") return v;
  // protobufjs returns int64 as Long; clamp values outside the safe range (e.g. INT64_MAX as "to the end").
  const long = v as { toNumber(): number; high: number };
  const n = long.toNumber();
  return Number.isSafeInteger(n) ? n : n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

const text = new TextDecoder();

export interface ReadOptions {
  /** Absolute path of the file the bytes came from; needed to resolve external data. */
  sourcePath?: string;
  /** Inline raw_data at least this long is kept as a reference into sourcePath. Default 1 KiB. */
  inlineLimit?: number;
}

export function decodeModel(bytes: Uint8Array, options: ReadOptions = {}): Model {
  const m: Msg = ModelProto.decode(bytes);
  if ((m.training_info?.length ?? 0) > 0) throw new OnnxModelError("models with training_info are not supported");
  if ((m.functions?.length ?? 0) > 0) throw new OnnxModelError("models with local functions are not supported; inline them first");
  const ctx: DecodeContext = { bytes, sourcePath: options.sourcePath, inlineLimit: options.inlineLimit ?? 1024 };
  const opsets: Record<string, number> = {};
  for (const o of m.opset_import ?? []) opsets[o.domain ?? ""] = num(o.version);
  if (!m.graph) throw new OnnxModelError("model has no graph");
  return { irVersion: num(m.ir_version), producerName: m.producer_name ?? "", opsets, graph: decodeGraph(m.graph, ctx) };
}

interface DecodeContext {
  bytes: Uint8Array;
  sourcePath: string | undefined;
  inlineLimit: number;
}

function decodeGraph(g: Msg, ctx: DecodeContext): Graph {
  if ((g.sparse_initializer?.length ?? 0) > 0) throw new OnnxModelError("sparse initializers are not supported");
  return {
    name: g.name ?? "",
    nodes: (g.node ?? []).map((n: Msg, i: number) => decodeNode(n, i, ctx)),
    initializers: (g.initializer ?? []).map((t: Msg) => decodeTensor(t, ctx)),
    inputs: (g.input ?? []).map(decodeValueInfo),
    outputs: (g.output ?? []).map(decodeValueInfo),
    valueInfo: (g.value_info ?? []).map(decodeValueInfo),
  };
}

function decodeNode(n: Msg, index: number, ctx: DecodeContext): Node {
  const attributes: Record<string, AttributeValue> = {};
  for (const a of n.attribute ?? []) attributes[a.name] = decodeAttribute(a, ctx);
  return {
    name: n.name || `${n.op_type}_${index}`,
    opType: n.op_type ?? "",
    domain: n.domain === "ai.onnx" ? "" : (n.domain ?? ""),
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes,
  };
}

function decodeAttribute(a: Msg, ctx: DecodeContext): AttributeValue {
  if (a.ref_attr_name) throw new OnnxModelError(`attribute '${a.name}' refers to a function attribute`);
  switch (a.type) {
    case 1: return { type: "float", value: a.f ?? 0 };
    case 2: return { type: "int", value: num(a.i) };
    case 3: return { type: "string", value: text.decode(a.s ?? new Uint8Array()) };
    // Constant-node tensors stay inline: external data inside attributes is not worth the risk.
    case 4: return { type: "tensor", value: decodeTensor(a.t, { ...ctx, inlineLimit: Infinity }) };
    case 5: return { type: "graph", value: decodeGraph(a.g, ctx) };
    case 6: return { type: "floats", value: [...(a.floats ?? [])] };
    case 7: return { type: "ints", value: (a.ints ?? []).map(num) };
    case 8: return { type: "strings", value: (a.strings ?? []).map((s: Uint8Array) => text.decode(s)) };
    default: throw new OnnxModelError(`attribute '${a.name}' has unsupported type ${a.type}`);
  }
}

function decodeTensor(t: Msg, ctx: DecodeContext): TensorValue {
  const name: string = t.name ?? "";
  const dims: number[] = (t.dims ?? []).map(num);
  const dataType: number = t.data_type ?? 0;
  if (t.data_location === 1) {
    const entries: Record<string, string> = {};
    for (const e of t.external_data ?? []) entries[e.key] = e.value;
    if (!entries.location) throw new OnnxModelError(`external tensor '${name}' has no location`);
    if (!ctx.sourcePath) throw new OnnxModelError(`external tensor '${name}' needs the model's file path to be resolved`);
    const bytesPer = BYTES_PER_ELEMENT[dataType];
    const length = entries.length !== undefined ? Number(entries.length) : elementCount(dims) * (bytesPer ?? 0);
    const file = path.resolve(path.dirname(ctx.sourcePath), entries.location);
    return { name, dataType, dims, payload: { kind: "external", file, offset: Number(entries.offset ?? 0), length } };
  }
  const raw: Uint8Array | undefined = t.raw_data;
  if (raw && raw.length > 0) {
    if (ctx.sourcePath && raw.length >= ctx.inlineLimit && raw.buffer === ctx.bytes.buffer) {
      const offset = raw.byteOffset - ctx.bytes.byteOffset;
      return { name, dataType, dims, payload: { kind: "external", file: ctx.sourcePath, offset, length: raw.length } };
    }
    return { name, dataType, dims, payload: { kind: "inline", bytes: new Uint8Array(raw) } };
  }
  return { name, dataType, dims, payload: { kind: "inline", bytes: typedFieldsToBytes(t, dataType, name) } };
}

/** Converts the typed repeated fields (float_data, int64_data, ...) to little-endian raw bytes. */
function typedFieldsToBytes(t: Msg, dataType: number, name: string): Uint8Array {
  switch (dataType) {
    case 1: return new Uint8Array(Float32Array.from(t.float_data ?? []).buffer);
    case 11: return new Uint8Array(Float64Array.from(t.double_data ?? []).buffer);
    case 7: return new Uint8Array(BigInt64Array.from((t.int64_data ?? []).map((v: unknown) => BigInt(num(v)))).buffer);
    case 6: return new Uint8Array(Int32Array.from(t.int32_data ?? []).buffer);
    case 9: case 2: return Uint8Array.from(t.int32_data ?? []);
    case 3: return new Uint8Array(Int8Array.from(t.int32_data ?? []).buffer);
    case 10: case 16: return new Uint8Array(Uint16Array.from(t.int32_data ?? []).buffer);
    default: throw new OnnxModelError(`tensor '${name}' has unsupported data type ${dataType}`);
  }
}

function decodeValueInfo(v: Msg): ValueInfo {
  const tt = v.type?.tensor_type;
  if (!tt) return { name: v.name ?? "", dataType: 0 };
  const shape: Dim[] | undefined = tt.shape
    ? (tt.shape.dim ?? []).map((d: Msg): Dim => (d.dim_value !== undefined && d.dim_value !== null && d.value === "dim_value" ? num(d.dim_value) : d.dim_param ? d.dim_param : null))
    : undefined;
  return shape ? { name: v.name ?? "", dataType: tt.elem_type ?? 0, shape } : { name: v.name ?? "", dataType: tt.elem_type ?? 0 };
}

export interface WriteOptions {
  /** Folder that external-data locations are written relative to (the model file's folder, or
   * the folder passed to onnxruntime as the external-initializer folder). */
  externalDataDir: string;
}

export function encodeModel(model: Model, options: WriteOptions): Uint8Array {
  const dir = path.resolve(options.externalDataDir);
  const msg = {
    ir_version: model.irVersion,
    producer_name: model.producerName,
    opset_import: Object.entries(model.opsets).map(([domain, version]) => ({ domain, version })),
    graph: encodeGraph(model.graph, dir),
  };
  const err = ModelProto.verify(msg);
  if (err) throw new OnnxModelError(`cannot encode model: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(msg)).finish();
}

function encodeGraph(g: Graph, dir: string): Msg {
  return {
    name: g.name,
    node: g.nodes.map((n) => encodeNode(n, dir)),
    initializer: g.initializers.map((t) => encodeTensor(t, dir)),
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    value_info: g.valueInfo.map(encodeValueInfo),
  };
}

function encodeNode(n: Node, dir: string): Msg {
  return {
    name: n.name,
    op_type: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([name, a]) => encodeAttribute(name, a, dir)),
  };
}

const utf8 = new TextEncoder();

function encodeAttribute(name: string, a: AttributeValue, dir: string): Msg {
  switch (a.type) {
    case "float": return { name, type: 1, f: a.value };
    case "int": return { name, type: 2, i: a.value };
    case "string": return { name, type: 3, s: utf8.encode(a.value) };
    case "tensor": return { name, type: 4, t: encodeTensor(a.value, dir) };
    case "graph": return { name, type: 5, g: encodeGraph(a.value, dir) };
    case "floats": return { name, type: 6, floats: a.value };
    case "ints": return { name, type: 7, ints: a.value };
    case "strings": return { name, type: 8, strings: a.value.map((s) => utf8.encode(s)) };
  }
}

function encodeTensor(t: TensorValue, dir: string): Msg {
  const base = { name: t.name, dims: t.dims, data_type: t.dataType };
  if (t.payload.kind === "inline") return { ...base, raw_data: t.payload.bytes };
  const location = path.relative(dir, t.payload.file).split(path.sep).join("/");
  if (location.startsWith("../") || path.isAbsolute(location)) {
    throw new OnnxModelError(
      `tensor '${t.name}' lives in ${t.payload.file}, outside ${dir}: onnxruntime refuses external data outside that folder`,
    );
  }
  return {
    ...base,
    data_location: 1,
    external_data: [
      { key: "location", value: location },
      { key: "offset", value: String(t.payload.offset) },
      { key: "length", value: String(t.payload.length) },
    ],
  };
}

function encodeValueInfo(v: ValueInfo): Msg {
  const shape = v.shape
    ? { dim: v.shape.map((d) => (typeof d === "number" ? { dim_value: d } : typeof d === "string" ? { dim_param: d } : {})) }
    : undefined;
  return { name: v.name, type: { tensor_type: shape ? { elem_type: v.dataType, shape } : { elem_type: v.dataType } } };
}
