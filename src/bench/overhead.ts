/**
 * `npm run bench -- overhead`: what DVAR's L_det costs, on the bundled model's compiled graphs.
 *
 * 1. Per call: the eval graph at eval batch 4, 2 and 1 (`--eval-batches`) against one training
 *    step (the step graph at train batch 4 plus the AdamW update), timed interleaved.
 * 2. Evaluating every k steps (`--every`): slices of `--slice-steps` updates through the
 *    engine's runSlice with ldetEvery = k against the same slices with no L_det at all (a
 *    fixed-steps rule, which needs no signal). Overhead = slice time / no-eval time - 1; the
 *    per-call estimate eval / (k * step) is printed beside it. (DVAR itself needs L_det at
 *    every step it checks: its `every` is 1 by default.)
 */
import { createInitialState, runSlice, type InversionState } from "../core/inversion/index.js";
import { createOptimizer } from "../core/optim/index.js";
import { modelFlags, openBundledJob } from "./bundled.js";
import { runsFlag, threadsFlag, warmupFlag, type FlagSpec, type FlagValues } from "./flags.js";
import { ms, percent, ratio, type BenchReport } from "./report.js";
import { medians, timeInterleaved } from "./timing.js";

export const overheadFlags: FlagSpec[] = [
  runsFlag(10),
  warmupFlag(2, 1),
  threadsFlag(2),
  { kind: "ints", name: "eval-batches", default: [4, 2, 1], min: 1, max: 64, help: "L_det eval batch sizes" },
  { kind: "ints", name: "every", default: [1, 2, 5, 10], min: 1, max: 1000, help: "evaluate L_det every k steps" },
  { kind: "int", name: "slice-steps", default: 20, min: 1, max: 6100, help: "updates per timed slice in the every-k comparison" },
  ...modelFlags,
];

/** Far beyond any step cap: no L_det is ever computed. */
const NEVER = 1_000_000_000;

export async function benchOverhead(v: FlagValues): Promise<Omit<BenchReport, "command" | "environment">> {
  const runs = Number(v.runs), warmup = Number(v.warmup), threads = Number(v.threads), sliceSteps = Number(v["slice-steps"]);
  const evalBatches = v["eval-batches"] as number[], every = v.every as number[];
  const bundled = await openBundledJob(v, { maxSteps: 6100 });
  try {
    const { state } = bundled;
    const trainJob = await bundled.open();
    const evalJobs = new Map<number, Awaited<ReturnType<typeof bundled.open>>>();
    for (const b of evalBatches) evalJobs.set(b, await bundled.open(b));

    // 1. Per call, interleaved: one training step (graph + AdamW) and each eval batch size.
    const optimizer = createOptimizer(state.config.optimizer);
    const params = state.params;
    const cases: Record<string, (run: number) => Promise<unknown>> = {
      step: (run) => optimizer.step(params, state.optimizer.state, (p) => trainJob.objective.trainLossAndGradient(Math.max(run, 0), p), state.config.learningRate),
    };
    for (const [b, job] of evalJobs) cases[`eval${b}`] = () => job.objective.evalLoss(params);
    const perCall = medians(await timeInterleaved({ runs, warmup }, cases));
    const stepMs = perCall.step!;

    // 2. Slices with L_det every k steps vs none (eval batch = the job's, 4 by default).
    const evalBatch = bundled.description.evalBatchSize;
    const stateWith = (ldetEvery: number): InversionState =>
      createInitialState({ ...state.config, stop: { name: "fixed", steps: state.config.maxSteps }, ldetEvery }, state.params);
    const sliceCases: Record<string, () => Promise<unknown>> = {};
    const states = new Map<string, InversionState>([["none", stateWith(NEVER)], ...every.map((k) => [`k${k}`, stateWith(k)] as [string, InversionState])]);
    const evaluated = new Map<string, number>();
    for (const [name, s] of states) {
      sliceCases[name] = async () => {
        const result = await runSlice(s, { objective: trainJob.objective, budget: { maxSteps: sliceSteps }, clock: () => performance.now() });
        evaluated.set(name, result.state.history.ldet.filter((x) => !Number.isNaN(x)).length);
      };
    }
    const sliceTimes = await timeInterleaved({ runs, warmup }, sliceCases);
    const slice = medians(sliceTimes);
    const none = slice.none!;

    const evalRows = evalBatches.map((b) => [String(b), ms(perCall[`eval${b}`]!), ms(stepMs), ratio(perCall[`eval${b}`]! / stepMs)]);
    const everyRows = every.map((k) => {
      const measured = slice[`k${k}`]! / none - 1;
      const estimate = perCall[`eval${evalBatch}`] === undefined ? NaN : perCall[`eval${evalBatch}`]! / (k * stepMs);
      return { k, sliceMs: slice[`k${k}`]!, evaluations: evaluated.get(`k${k}`)!, measured, estimate };
    });
    const ratios: Record<string, number> = {};
    for (const b of evalBatches) ratios[`eval${b}OverStep`] = perCall[`eval${b}`]! / stepMs;
    for (const r of everyRows) ratios[`every${r.k}Overhead`] = r.measured;
    return {
      bench: "overhead",
      ratios,
      tables: [
        {
          title: `L_det evaluation vs one training step (train batch ${bundled.description.batchSize}, step graph + AdamW)`,
          columns: ["eval batch", "L_det eval", "training step", "eval / step"],
          rows: evalRows,
        },
        {
          title: `Evaluating every k steps (eval batch ${evalBatch}): ${sliceSteps}-update slices vs the same slices without L_det (${ms(none)})`,
          columns: ["k", "evaluations", "slice", "overhead (measured)", "eval / (k x step)"],
          rows: everyRows.map((r) => [String(r.k), String(r.evaluations), ms(r.sliceMs), percent(r.measured), Number.isNaN(r.estimate) ? "-" : percent(r.estimate)]),
        },
      ],
      notes: [
        `model ${bundled.identity.path}: fingerprint ${bundled.identity.fingerprint.slice(0, 16)}, last commit ${bundled.identity.commit ?? "unknown"}`,
        `${runs} runs after ${warmup} warm-up, medians of interleaved runs; ${threads} onnxruntime threads`,
        "the measured overhead is a difference of two noisy medians: on a loaded machine small values can come out negative",
      ],
      details: { model: bundled.identity, perCallMs: perCall, sliceMs: slice, sliceSteps, evalBatch, every: everyRows, sliceRuns: sliceTimes },
    };
  } finally {
    await bundled.close();
  }
}
