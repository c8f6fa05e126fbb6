/**
 * What every benchmark prints: the command that reproduces it, the machine's state (the
 * 1-minute load average before and after: these machines are shared), the headline ratios
 * (unitless, both sides measured in this run) and small tables of the medians behind them.
 */
import * as os from "node:os";

export interface BenchTable {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface BenchEnvironment {
  date: string;
  node: string;
  cpus: number;
  /** os.loadavg() when the bench started and when it ended. */
  loadBefore: number[];
  loadAfter: number[];
}

export interface BenchReport {
  bench: string;
  command: string;
  environment: BenchEnvironment;
  /** Headline numbers: ratios between cases timed in this same run. */
  ratios: Record<string, number>;
  tables: BenchTable[];
  notes: string[];
  /** Everything measured, for --json readers. */
  details: Record<string, unknown>;
}

export const loadAverage = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

export function startEnvironment(): BenchEnvironment {
  return { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadBefore: loadAverage(), loadAfter: [] };
}

export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)) + " ms";
export const ratio = (x: number): string => (Math.abs(x) >= 10 ? x.toFixed(1) : Math.abs(x) >= 0.1 ? x.toFixed(3) : x.toPrecision(2));
export const percent = (x: number): string => `${(x * 100).toFixed(Math.abs(x) >= 0.1 ? 1 : 2)}%`;

function formatTable(t: BenchTable): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [`${t.title}`, line(t.columns), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...t.rows.map(line)].join("\n");
}

export function formatReport(r: BenchReport): string {
  const e = r.environment;
  return [
    `$ ${r.command}`,
    `${e.date}, node ${e.node}, ${e.cpus} CPUs, load average ${e.loadBefore.join(" ")} before, ${e.loadAfter.join(" ")} after`,
    "",
    ...r.tables.flatMap((t) => [formatTable(t), ""]),
    ...r.notes.map((n) => `- ${n}`),
  ].join("\n") + "\n";
}
