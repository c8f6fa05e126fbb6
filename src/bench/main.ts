/**
 * `npm run bench -- NAME [flags]`: one benchmark, printed as a table with the command that
 * reproduces it (`--json` for the whole report). `npm run bench -- --help` lists them all.
 */
import { benchApi, apiFlags } from "./api.js";
import { BenchUsageError, commandLine, flagHelp, parseBenchFlags, type FlagSpec, type FlagValues } from "./flags.js";
import { benchOverhead, overheadFlags } from "./overhead.js";
import { formatReport, loadAverage, startEnvironment, type BenchReport } from "./report.js";
import { benchSlice, sliceFlags } from "./slice.js";
import { benchStep, stepFlags } from "./step.js";

interface Bench {
  summary: string;
  flags: FlagSpec[];
  run(values: FlagValues): Promise<Omit<BenchReport, "command" | "environment">>;
}

export const BENCHES: Record<string, Bench> = {
  step: { summary: "textual-inversion step graph vs PyTorch eager autograd (needs python3 with torch)", flags: stepFlags, run: benchStep },
  slice: { summary: "checkpoint write + read as a fraction of a slice; cached latents vs VAE every step", flags: sliceFlags, run: benchSlice },
  overhead: { summary: "L_det evaluation vs a training step at eval batch 4, 2, 1; evaluating every k steps", flags: overheadFlags, run: benchOverhead },
  api: { summary: "status endpoint throughput and p50/p99 latency vs /healthz under a bounded load test", flags: apiFlags, run: benchApi },
};

export function helpText(): string {
  return [
    "Usage: npm run bench -- NAME [flags] [--json]",
    "",
    "Each bench prints ratios between cases timed in the same run (medians after warm-up),",
    "a table of the medians behind them, the command with every flag, and the load average.",
    "--json prints the whole report as JSON; NAME --help shows one bench's flags.",
    "",
    ...Object.entries(BENCHES).flatMap(([name, b]) => [`  ${name}: ${b.summary}`, flagHelp(b.flags), ""]),
  ].join("\n");
}

export interface BenchOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: BenchOutput = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

export async function main(argv: string[], out: BenchOutput = processOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h") {
    out.stdout(helpText() + "\n");
    return 0;
  }
  const bench = name === undefined ? undefined : BENCHES[name];
  if (!bench) {
    out.stderr(`${name === undefined ? "no benchmark named" : `unknown benchmark "${name}"`}; choose one of ${Object.keys(BENCHES).join(", ")} (npm run bench -- --help)\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseBenchFlags(bench.flags, rest);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    out.stderr(`bench ${name}: ${error.message} (npm run bench -- ${name} --help)\n`);
    return 2;
  }
  if (parsed.help) {
    out.stdout(`Usage: npm run bench -- ${name} [flags] [--json]\n  ${bench.summary}\n${flagHelp(bench.flags)}\n`);
    return 0;
  }
  const environment = startEnvironment();
  let result;
  try {
    result = await bench.run(parsed.values);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    out.stderr(`bench ${name}: ${error.message} (npm run bench -- ${name} --help)\n`);
    return 2;
  }
  const report: BenchReport = { bench: result.bench, command: commandLine(name!, bench.flags, parsed.values), environment: { ...environment, loadAfter: loadAverage() }, ratios: result.ratios, tables: result.tables, notes: result.notes, details: result.details };
  out.stdout(parsed.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report));
  return 0;
}
