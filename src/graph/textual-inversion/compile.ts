/**
 * Compiles the textual-inversion step graph (loss and d loss / d concept) and eval graph
 * (per-sample losses and their mean, forward only) for concrete input shapes, and caches
 * the encoded graphs on disk keyed by the source models and the options.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encodeModel } from "../onnx/codec.js";
import { differentiate, pruneToOutputs } from "../autodiff/engine.js";
import { OnnxModelError, type Model } from "../onnx/ir.js";
import { readPipeline } from "./pipeline.js";
import { TI, joinForTextualInversion, type JoinedModel } from "./join.js";

export interface CompileOptions {
  batch: number;
  /** Token positions per prompt (77 for SD 1.x/2.x). */
  tokens: number;
  /** Number of learned vectors k. */
  concepts: number;
  /** Latent shape per sample [C, h, w]. */
  latent: [number, number, number];
}

export interface CompiledGraphs {
  /** Pipeline folder: pass it as the external-data folder when loading the bytes. */
  root: string;
  step: Uint8Array;
  eval: Uint8Array;
  vocabSize: number;
  hiddenSize: number;
  idsType: number;
  timestepType: number;
  /** True when the graphs came from the cache. */
  cached: boolean;
}

/** Bumped whenever the compiler's output for the same input changes. */
export const COMPILER_VERSION = "ti-1";

function inputShapes(o: CompileOptions, hidden: number): Record<string, number[]> {
  return {
    [TI.inputIds]: [o.batch, o.tokens],
    [TI.concept]: [o.concepts, hidden],
    [TI.noisyLatents]: [o.batch, ...o.latent],
    [TI.timesteps]: [o.batch],
    [TI.target]: [o.batch, ...o.latent],
  };
}

/** Builds both graphs in memory (no cache). */
export function buildGraphs(joined: JoinedModel, options: CompileOptions): { step: Model; eval: Model } {
  validate(options);
  const shapes = inputShapes(options, joined.hiddenSize);
  const step = differentiate(joined.model, { wrt: [TI.concept], loss: TI.loss, gradNames: [TI.grad], inputShapes: shapes });
  step.graph.inputs = fixInputShapes(step, shapes);
  const evalGraph = pruneToOutputs(joined.model.graph);
  const evalModel: Model = { ...joined.model, graph: { ...evalGraph, inputs: fixInputShapes(joined.model, shapes) } };
  return { step, eval: evalModel };
}

/** Concrete input shapes let onnxruntime fold the shape arithmetic at load time. */
function fixInputShapes(model: Model, shapes: Record<string, number[]>) {
  return model.graph.inputs.map((i) => (shapes[i.name] ? { ...i, shape: shapes[i.name]! } : i));
}

function validate(o: CompileOptions): void {
  const ok = (n: number) => Number.isInteger(n) && n > 0;
  if (!ok(o.batch) || !ok(o.tokens) || !ok(o.concepts) || !o.latent.every(ok)) {
    throw new OnnxModelError(`invalid compile options ${JSON.stringify(o)}: sizes must be positive integers`);
  }
}

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "dvar", "compiled");
}

/**
 * Cache key: compiler version, options, the pipeline folder, and every file of its
 * text_encoder/ and unet/ folders by name, size and modification time, plus the bytes of
 * .onnx files under 64 MB (graphs with external weights). Computed before anything is
 * decoded, so a cache hit never reads the models.
 */
function cacheKey(root: string, options: CompileOptions): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ COMPILER_VERSION, root, options }));
  for (const sub of ["text_encoder", "unet"]) {
    const dir = path.join(root, sub);
    for (const name of fs.readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const s = fs.statSync(file);
      if (!s.isFile()) continue;
      h.update(`${sub}/${name}:${s.size}:${s.mtimeMs}\n`);
      if (name.endsWith(".onnx") && s.size < 64 * 2 ** 20) h.update(fs.readFileSync(file));
    }
  }
  return h.digest("hex").slice(0, 32);
}

export function compileTextualInversion(folder: string, options: CompileOptions, cacheDir: string | null = defaultCacheDir()): CompiledGraphs {
  validate(options);
  const root = path.resolve(folder);
  const key = cacheDir ? cacheKey(root, options) : "";
  const file = (kind: string) => path.join(cacheDir ?? "", `${key}-${kind}`);
  if (cacheDir && ["step.onnx", "eval.onnx", "meta.json"].every((k) => fs.existsSync(file(k)))) {
    const meta = JSON.parse(fs.readFileSync(file("meta.json"), "utf8")) as Omit<CompiledGraphs, "step" | "eval" | "cached">;
    return { ...meta, root, step: fs.readFileSync(file("step.onnx")), eval: fs.readFileSync(file("eval.onnx")), cached: true };
  }
  const pipeline = readPipeline(root);
  const joined = joinForTextualInversion(pipeline.textEncoder, pipeline.unet);
  const meta = { root: pipeline.root, vocabSize: joined.vocabSize, hiddenSize: joined.hiddenSize, idsType: joined.idsType, timestepType: joined.timestepType };
  const graphs = buildGraphs(joined, options);
  const step = encodeModel(graphs.step, { externalDataDir: pipeline.root });
  const evalBytes = encodeModel(graphs.eval, { externalDataDir: pipeline.root });
  if (step.length > 2 ** 31 - 1 || evalBytes.length > 2 ** 31 - 1) throw new OnnxModelError("compiled graph exceeds protobuf's 2 GB limit");
  if (cacheDir) {
    fs.mkdirSync(cacheDir, { recursive: true });
    // Write then rename, so a concurrent reader never sees half a file.
    // meta.json last: its presence marks a complete entry.
    const entries: [string, Uint8Array | string][] = [["step.onnx", step], ["eval.onnx", evalBytes], ["meta.json", JSON.stringify(meta)]];
    for (const [kind, bytes] of entries) {
      const tmp = `${file(kind)}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, file(kind));
    }
  }
  return { ...meta, step, eval: evalBytes, cached: false };
}
