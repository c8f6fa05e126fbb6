/**
 * `npm run bench -- step`: the textual-inversion step graph (B=4) against PyTorch eager
 * autograd on the same model, both timed in the same run (median after warm-up), plus
 * peak memory and the eval graph's time as a fraction of the step's.
 *
 * The PyTorch side (tools/ti-reference/bench_torch.py, Debian's python3-torch) builds the
 * model, exports it in the Optimum layout and times itself first; then this process
 * compiles and times the ONNX graphs on the export. Developer machines only: CI has no torch.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readTiInputs } from "../cli/ti-grad.js";
import { compileTextualInversion } from "../graph/textual-inversion/compile.js";
import { ModelSession } from "../runtime/session.js";
import { TextualInversionRunner } from "../runtime/textual-inversion.js";

export interface StepBenchOptions {
  runs: number;
  threads: number;
  python: string;
}

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times.length % 2 ? times[(times.length - 1) / 2]! : (times[times.length / 2 - 1]! + times[times.length / 2]!) / 2;
}

export async function benchStep(o: StepBenchOptions): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dvar-bench-step-"));
  try {
    const script = path.join(path.dirname(new URL(import.meta.url).pathname), "../../../tools/ti-reference/bench_torch.py");
    const py = spawnSync(o.python, [script, dir, "--runs", String(o.runs), "--threads", String(o.threads)], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (py.status !== 0) throw new Error(`PyTorch side failed (${o.python}):\n${py.stderr.slice(-2000)}`);
    const torch = JSON.parse(py.stdout.trim().split("\n").pop()!) as Record<string, number>;

    const inputs = readTiInputs(fs.readFileSync(path.join(dir, "inputs.safetensors")));
    const compileStart = performance.now();
    const graphs = compileTextualInversion(dir, TextualInversionRunner.shapesOf(inputs), null);
    const compileMs = performance.now() - compileStart;
    const feeds = {
      input_ids: inputs.inputIds, concept: inputs.concept, noisy_latents: inputs.noisyLatents,
      timesteps: inputs.timesteps as { data: BigInt64Array; dims: number[] }, target: inputs.target,
    };
    const options = { threads: o.threads, externalDataDir: graphs.root };
    const step = await ModelSession.fromBytes(graphs.step, options);
    const evaluate = await ModelSession.fromBytes(graphs.eval, options);
    const loss = Number((await step.run(feeds)).loss!.data[0]);
    const stepMs = await median(o.runs, () => step.run(feeds));
    const evalMs = await median(o.runs, () => evaluate.run(feeds));
    await step.release();
    await evaluate.release();
    return {
      model: "tiny SD 1.5 architecture (tools/ti-reference/bench_torch.py), B=4, latents 4x16x16, 77 tokens, k=1",
      threads: o.threads,
      runs: o.runs,
      onnx: { stepMs, evalMs, evalOverStep: evalMs / stepMs, compileMs, loss, peakRssMb: process.resourceUsage().maxRSS / 1024 },
      torch,
      stepVsTorch: stepMs / torch.step_ms_median!,
      lossRelativeDifference: Math.abs(loss - torch.loss!) / Math.abs(torch.loss!),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
