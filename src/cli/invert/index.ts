/**
 * `dvar invert`: runs an inversion (on a model folder, or the synthetic objective) in
 * slices, writing a checkpoint after each slice, exactly as a serverless worker would
 * (one slice per invocation), so the CLI exercises the resumable path. SIGINT ends the
 * current slice cleanly: checkpoint, exit 130.
 */
import { join } from "node:path";
import { encodeCheckpoint } from "../../core/checkpoint/index.js";
import { encodeSafetensors, type Tensor } from "../../core/io/safetensors.js";
import { configHash, runSlice, type InversionState, type SliceOutcome } from "../../core/inversion/index.js";
import type { Subcommand } from "../command.js";
import { HELP, type InvertOptions, parseInvertArgs } from "./args.js";
import { writeFileAtomic } from "../../engine/write-atomic.js";
import { describeOutcome, historyCsv, historyJson, lastValue, progressBar, progressLine, progressOf, summaryLines, type Summary } from "./report.js";
import { type PreparedRun, prepareRun } from "./setup.js";

/** Where the command prints and how it reads time; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `handler` on an interrupt request (Ctrl-C); returns the unsubscribe function. */
  onInterrupt(handler: () => void): () => void;
}

const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => performance.now(),
  onInterrupt(handler) {
    let count = 0;
    const listener = () => {
      if (++count > 1) process.exit(130); // a second Ctrl-C does not wait for the slice to end
      handler();
    };
    process.on("SIGINT", listener);
    return () => process.off("SIGINT", listener);
  },
};

function paramsFile(state: InversionState, hash: string): Uint8Array {
  const n = state.params.length;
  const tensors: Record<string, Tensor> = { final: { dtype: "F32", shape: [n], data: state.params } };
  if (state.best) tensors.best = { dtype: "F32", shape: [n], data: state.best.params };
  return encodeSafetensors(tensors, { config_hash: hash, final_step: String(state.step), best_step: String(state.best?.step ?? "") });
}

async function writeSyntheticOutputs(state: InversionState, outDir: string, hash: string): Promise<string[]> {
  const files: Array<[string, Uint8Array | string]> = [
    ["params.safetensors", paramsFile(state, hash)],
    ["history.json", historyJson(state, hash)],
    ["history.csv", historyCsv(state.history)],
  ];
  for (const [name, data] of files) await writeFileAtomic(join(outDir, name), data);
  return files.map(([name]) => join(outDir, name));
}

function startLine(start: NonNullable<PreparedRun["start"]>): string {
  return `${start.token}: ${start.images} images, initializer ${start.initializer} (${start.init}), lr ${start.learningRate}, batch ${start.batchSize}, eval batch ${start.evalBatchSize}, from step ${start.step}`;
}

function statusOf(outcome: SliceOutcome): Summary["status"] {
  return outcome.kind === "continue" ? "interrupted" : outcome.kind;
}

export async function runInvert(argv: string[], io: CliIo = processIo): Promise<number> {
  const options = parseInvertArgs(argv);
  if (options.help) {
    io.stdout.write(HELP + "\n");
    return 0;
  }
  const run = await prepareRun(options);
  try {
    return await execute(run, options, io);
  } finally {
    await run.close();
  }
}

async function execute(run: PreparedRun, options: InvertOptions, io: CliIo): Promise<number> {
  const { objective, outDir } = run;
  let state = run.state;
  const hash = configHash(state.config);
  const checkpointPath = join(outDir, "checkpoint.safetensors");
  const live = io.stdout.isTTY === true && !options.json;
  if (run.start) io.stdout.write(options.json ? JSON.stringify({ event: "start", ...run.start }) + "\n" : startLine(run.start) + "\n");

  let interrupts = 0;
  const unsubscribe = io.onInterrupt(() => interrupts++);
  let outcome: SliceOutcome;
  try {
    for (;;) {
      const started = io.now();
      const result = await runSlice(state, {
        objective,
        budget: { maxSteps: run.sliceSteps },
        clock: io.now,
        interrupted: () => interrupts > 0,
      });
      state = result.state;
      outcome = result.outcome;
      await writeFileAtomic(checkpointPath, encodeCheckpoint(state));
      const seconds = (io.now() - started) / 1000;
      const progress = progressOf(state, seconds > 0 ? result.stepsRun / seconds : 0);
      if (options.json) io.stdout.write(JSON.stringify(progress) + "\n");
      else io.stdout.write(live ? `\r\x1b[2K${progressBar(progress)}${progressLine(progress)}` : progressLine(progress) + "\n");
      if (outcome.kind !== "continue" || outcome.reason === "interrupted" || interrupts > 0) break;
    }
  } finally {
    unsubscribe();
  }
  if (live) io.stdout.write("\n");

  const written = run.writeOutputs ? await run.writeOutputs(state) : await writeSyntheticOutputs(state, outDir, hash);
  const files = [checkpointPath, ...written, join(outDir, "summary.json")];
  const summary: Summary = {
    event: "done",
    status: interrupts > 0 && outcome.kind === "continue" ? "interrupted" : statusOf(outcome),
    stoppedAtStep: state.step,
    reason: describeOutcome(outcome),
    finalLdet: lastValue(state.history.ldet),
    best: state.best ? { step: state.best.step, ldet: state.best.ldet } : null,
    configHash: hash,
    files,
  };
  await writeFileAtomic(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  if (options.json) io.stdout.write(JSON.stringify(summary) + "\n");
  else io.stdout.write(summaryLines(summary).join("\n") + "\n");
  if (summary.status === "interrupted") {
    const flag = run.kind === "synthetic" ? " --synthetic" : "";
    io.stderr.write(`interrupted at step ${state.step}; continue with: dvar invert${flag} --resume ${checkpointPath}\n`);
    return 130;
  }
  return summary.status === "failed" ? 1 : 0;
}

export const invertCommand: Subcommand = {
  name: "invert",
  summary: "learn a Textual Inversion embedding from images, with early stopping",
  run: (argv) => runInvert(argv),
};
