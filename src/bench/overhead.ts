/**
 * `npm run bench -- overhead`: what DVAR's L_det costs, on the bundled model's compiled graphs.
 *
 * 1. Per call: the eval graph at eval batch 4, 2 and 1 (`--eval-batches`) against one training
 *    step (the step graph at train batch 4 plus the AdamW update), timed interleaved.
 * 2. Evaluating every k steps (`--every`): slices of `--slice-steps` updates through the
 *    engine's runSlice with ldetEvery = k against the same slices with no L_det at all (a
 *    fixed-steps rule, which needs no signal). From the per-update CPU times the slices
 *    record: overhead per update = (median update with L_det - median update without) / k,
 *    over the latter; the per-call estimate eval / (k * step) is printed beside it. (DVAR
 *    itself needs L_det at every step it checks: its `every` is 1 by default.)
 */
import { createInitialState, runSlice, type InversionState } from "../core/inversion/index.js";
import { createOptimizer } from "../core/optim/index.js";
import { modelFlags, openBundledJob } from "./bundled.js";
import { BenchUsageError, runsFlag, threadsFlag, warmupFlag, type FlagSpec, type FlagValues } from "./flags.js";
import { ms, percent, ratio, type BenchReport } from "./report.js";
import { cpuClock, median, medians, timeInterleaved } from "./timing.js";

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
  const tooLarge = every.filter((k) => k > sliceSteps);
  if (tooLarge.length > 0) throw new BenchUsageError(`--every ${tooLarge.join(",")}: k must not exceed --slice-steps ${sliceSteps}, or no slice would evaluate L_det`);
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
    const perCall = medians((await timeInterleaved({ runs, warmup }, cases)).wall);
    const stepMs = perCall.step!;

    // 2. Slices with L_det every k steps vs none (eval batch = the job's, 4 by default). The
    // slices run on a CPU-time clock, so each update's history entry is the CPU time this
    // process (all its onnxruntime threads) spent on it: on a shared machine that measures the
    // work, where wall time mostly measures the other processes. The cost of L_det inside a
    // slice is then the median update with L_det minus the median update without: medians of
    // many updates. Whole-slice wall times are kept beside them.
    const evalBatch = bundled.description.evalBatchSize;
    const stateWith = (ldetEvery: number): InversionState =>
      createInitialState({ ...state.config, stop: { name: "fixed", steps: state.config.maxSteps }, ldetEvery }, state.params);
    const states = new Map<string, InversionState>([["none", stateWith(NEVER)], ...every.map((k) => [`k${k}`, stateWith(k)] as [string, InversionState])]);
    const updates = new Map<string, { withLdet: number[]; without: number[] }>([...states.keys()].map((name) => [name, { withLdet: [], without: [] }]));
    const sliceCases: Record<string, (run: number) => Promise<unknown>> = {};
    for (const [name, s] of states) {
      sliceCases[name] = async (run) => {
        const { history } = (await runSlice(s, { objective: trainJob.objective, budget: { maxSteps: sliceSteps }, clock: cpuClock })).state;
        if (run < 0) return;
        const u = updates.get(name)!;
        history.wallMs.forEach((wall, i) => (Number.isNaN(history.ldet[i]!) ? u.without : u.withLdet).push(wall));
      };
    }
    const sliceTimes = await timeInterleaved({ runs, warmup }, sliceCases);
    const slice = medians(sliceTimes.wall);
    const plainUpdate = median(updates.get("none")!.without);

    const evalRows = evalBatches.map((b) => [String(b), ms(perCall[`eval${b}`]!), ms(stepMs), ratio(perCall[`eval${b}`]! / stepMs)]);
    const everyRows = every.map((k) => {
      const u = updates.get(`k${k}`)!;
      const withLdet = median(u.withLdet);
      const measured = (withLdet - plainUpdate) / (k * plainUpdate);
      const estimate = perCall[`eval${evalBatch}`] === undefined ? NaN : perCall[`eval${evalBatch}`]! / (k * stepMs);
      return { k, evaluationsPerSlice: u.withLdet.length / runs, updateWithLdetCpuMs: withLdet, measured, estimate, sliceWallMs: slice[`k${k}`]!, sliceWallOverNone: slice[`k${k}`]! / slice.none! };
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
          title: `Evaluating every k steps (eval batch ${evalBatch}), in ${sliceSteps}-update slices; median update without L_det ${ms(plainUpdate)} CPU`,
          columns: ["k", "L_det per slice", "update with L_det (CPU)", "overhead (in slice, CPU)", "overhead (per call, wall)", "slice wall / no-L_det slice"],
          rows: everyRows.map((r) => [String(r.k), String(r.evaluationsPerSlice), ms(r.updateWithLdetCpuMs), percent(r.measured), Number.isNaN(r.estimate) ? "-" : percent(r.estimate), ratio(r.sliceWallOverNone)]),
        },
      ],
      notes: [
        `model ${bundled.identity.path}: fingerprint ${bundled.identity.fingerprint.slice(0, 16)}, last commit ${bundled.identity.commit ?? "unknown"}`,
        `${runs} runs after ${warmup} warm-up, medians of interleaved runs; ${threads} onnxruntime threads`,
        "overhead in slice = (median CPU time of an update with L_det - median of updates in slices without L_det) / (k x the latter); per call = eval / (k x step), wall medians from the first table; slice wall ratios are the noisiest on a shared machine",
      ],
      details: { model: bundled.identity, perCallMs: perCall, plainUpdateCpuMs: plainUpdate, sliceMs: slice, sliceSteps, evalBatch, every: everyRows, sliceRuns: sliceTimes.wall },
    };
  } finally {
    await bundled.close();
  }
}
