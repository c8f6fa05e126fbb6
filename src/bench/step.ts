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
import { runsFlag, threadsFlag, warmupFlag, type FlagSpec, type FlagValues } from "./flags.js";
import { ms, ratio, type BenchReport } from "./report.js";
import { median, timeInterleaved, type Sampling } from "./timing.js";

export const stepFlags: FlagSpec[] = [
  runsFlag(10),
  warmupFlag(3, 1),
  threadsFlag(2),
  { kind: "string", name: "python", default: "/usr/bin/python3", help: "python with torch for the PyTorch side (which always warms up 3 times)" },
];

async function medianOf(sampling: Sampling, fn: () => Promise<unknown>): Promise<number> {
  return median((await timeInterleaved(sampling, { fn })).wall.fn);
}

export async function benchStep(v: FlagValues): Promise<Omit<BenchReport, "command" | "environment">> {
  const o = { runs: Number(v.runs), warmup: Number(v.warmup), threads: Number(v.threads), python: String(v.python) };
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
    const stepMs = await medianOf(o, () => step.run(feeds));
    const evalMs = await medianOf(o, () => evaluate.run(feeds));
    await step.release();
    await evaluate.release();
    const details = {
      model: "tiny SD 1.5 architecture (tools/ti-reference/bench_torch.py), B=4, latents 4x16x16, 77 tokens, k=1",
      threads: o.threads,
      runs: o.runs,
      onnx: { stepMs, evalMs, evalOverStep: evalMs / stepMs, compileMs, loss, peakRssMb: process.resourceUsage().maxRSS / 1024 },
      torch,
      stepVsTorch: stepMs / torch.step_ms_median!,
      lossRelativeDifference: Math.abs(loss - torch.loss!) / Math.abs(torch.loss!),
    };
    return {
      bench: "step",
      ratios: { stepVsTorch: details.stepVsTorch, evalOverStep: evalMs / stepMs },
      tables: [
        {
          title: `Textual-inversion step, ${details.model}`,
          columns: ["side", "step", "forward / eval", "step vs PyTorch"],
          rows: [
            ["ONNX (onnxruntime-node)", ms(stepMs), ms(evalMs), ratio(details.stepVsTorch)],
            ["PyTorch eager autograd", ms(torch.step_ms_median!), ms(torch.forward_ms_median ?? NaN), "1"],
          ],
        },
      ],
      notes: [`compile ${ms(compileMs)}; loss ${loss} (relative difference to PyTorch ${details.lossRelativeDifference.toPrecision(2)})`],
      details,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
