/**
 * Finite-difference check of compiled gradient graphs: builds a tiny forward graph,
 * reduces its output to loss = sum(y * r) with a fixed random r, differentiates it,
 * runs both in onnxruntime and compares the gradient with central differences.
 */
import { GraphBuilder, makeModel, valueInfo } from "../../../src/graph/onnx/builder.js";
import { encodeModel } from "../../../src/graph/onnx/codec.js";
import { inferGraph } from "../../../src/graph/onnx/infer.js";
import { DataType, type AttributeValue, type Model } from "../../../src/graph/onnx/ir.js";
import { differentiate } from "../../../src/graph/autodiff/engine.js";
import { ModelSession, type HostTensor } from "../../../src/runtime/session.js";
import { normals } from "../../../src/core/rng/stream.js";

export interface CaseInput {
  shape: number[];
  /** Fixed values (else standard normals); for non-differentiated inputs such as indices. */
  values?: number[];
  dataType?: number;
  /** Differentiate with respect to this input (default: float inputs without fixed values). */
  wrt?: boolean;
  /** Keep values away from 0 (for Div, Sqrt, Pow): |x| + 0.5. */
  positive?: boolean;
}

export interface OpCase {
  inputs: Record<string, CaseInput>;
  /** Emits the nodes; returns the output to check. */
  build: (b: GraphBuilder, names: Record<string, string>) => string;
  opset?: number;
  dataType?: number;
}

export function node(b: GraphBuilder, op: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputs = 1): string[] {
  return b.op(op, inputs, attributes, outputs);
}

let seedCounter = 1;

function buildForward(c: OpCase): { model: Model; wrt: string[]; feeds: Record<string, HostTensor> } {
  const dataType = c.dataType ?? DataType.DOUBLE;
  const seed = seedCounter++;
  const b = new GraphBuilder("", new Set());
  const names: Record<string, string> = {};
  const wrt: string[] = [];
  const feeds: Record<string, HostTensor> = {};
  const inputs = [];
  let stream = 0;
  for (const [name, spec] of Object.entries(c.inputs)) {
    const type = spec.dataType ?? dataType;
    const count = spec.shape.reduce((a, v) => a * v, 1);
    const isWrt = spec.wrt ?? (spec.values === undefined && (type === DataType.FLOAT || type === DataType.DOUBLE));
    if (!isWrt) {
      names[name] = b.constant(type, spec.shape, spec.values ?? Array.from(normals({ seed, stream: stream++, step: 0 }, count)), name);
      continue;
    }
    names[name] = name;
    wrt.push(name);
    inputs.push(valueInfo(name, type, spec.shape));
    let values = spec.values ?? Array.from(normals({ seed, stream: stream++, step: 0 }, count));
    if (spec.positive) values = values.map((v) => Math.abs(v) + 0.5);
    feeds[name] = { data: type === DataType.FLOAT ? Float32Array.from(values) : Float64Array.from(values), dims: spec.shape };
  }
  const y = c.build(b, names);
  const probe = makeModel({ name: "case", nodes: b.nodes, initializers: b.initializers, inputs, outputs: [valueInfo(y, dataType)], valueInfo: [] }, c.opset ?? 17);
  const yShape = inferGraph(probe).get(y)?.shape;
  if (!yShape || yShape.some((d) => d === null)) throw new Error(`test case output shape unknown: ${JSON.stringify(yShape)}`);
  const r = b.constant(dataType, yShape as number[], Array.from(normals({ seed, stream: 99, step: 0 }, (yShape as number[]).reduce((a, v) => a * v, 1))), "cotangent");
  const weighted = b.op1("Mul", [y, r]);
  b.nodes.push({ name: "loss_node", opType: "ReduceSum", domain: "", inputs: [weighted], outputs: ["loss"], attributes: { keepdims: { type: "int", value: 0 } } });
  const model = makeModel({ name: "case", nodes: b.nodes, initializers: b.initializers, inputs, outputs: [valueInfo("loss", dataType, [])], valueInfo: [] }, c.opset ?? 17);
  return { model, wrt, feeds };
}

export interface GradCheckResult {
  /** max |analytic - numeric| / (max |numeric| + 1e-12), over all differentiated inputs. */
  relativeError: number;
  gradientNorm: number;
}

const opts = { threads: 1, externalDataDir: "/" };

export async function gradCheck(c: OpCase): Promise<GradCheckResult> {
  const { model, wrt, feeds } = buildForward(c);
  const gradModel = differentiate(model, { wrt, loss: "loss" });
  const forward = await ModelSession.fromBytes(encodeModel(model, { externalDataDir: "/" }), opts);
  const backward = await ModelSession.fromBytes(encodeModel(gradModel, { externalDataDir: "/" }), opts);
  const analytic = await backward.run(feeds);
  const isDouble = (c.dataType ?? DataType.DOUBLE) === DataType.DOUBLE;
  const h = isDouble ? 1e-6 : 1e-2;
  let maxErr = 0, maxRef = 0, norm = 0;
  for (const name of wrt) {
    const x = feeds[name]!.data as Float64Array | Float32Array;
    const grad = analytic[`${name}_grad`]!.data as Float64Array | Float32Array;
    for (let i = 0; i < x.length; i++) {
      const saved = x[i]!;
      x[i] = saved + h;
      const plus = Number((await forward.run(feeds)).loss!.data[0]);
      x[i] = saved - h;
      const minus = Number((await forward.run(feeds)).loss!.data[0]);
      x[i] = saved;
      const numeric = (plus - minus) / (2 * h);
      maxErr = Math.max(maxErr, Math.abs(numeric - grad[i]!));
      maxRef = Math.max(maxRef, Math.abs(numeric));
      norm += grad[i]! * grad[i]!;
    }
  }
  await forward.release();
  await backward.release();
  return { relativeError: maxErr / (maxRef + 1e-12), gradientNorm: Math.sqrt(norm) };
}
