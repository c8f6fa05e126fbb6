/** What `dvar invert` prints and writes: progress lines, the summary, histories as JSON and CSV. */
import { HISTORY_KEYS, type InversionHistory, type InversionState, type SliceOutcome } from "../../core/inversion/index.js";

/** The last value of a series that is not NaN (L_det and rule values are NaN on steps without them). */
export function lastValue(series: readonly number[]): number | null {
  for (let i = series.length - 1; i >= 0; i--) if (!Number.isNaN(series[i]!)) return series[i]!;
  return null;
}

export interface Progress {
  event: "progress";
  step: number;
  maxSteps: number;
  stepsPerSecond: number;
  ldet: number | null;
  rule: string;
  ruleValue: number | null;
  /** Seconds to max steps at the current rate (an upper bound: the rule may stop earlier); null when unknown. */
  etaSeconds: number | null;
}

export function progressOf(state: InversionState, stepsPerSecond: number): Progress {
  const remaining = state.finished ? 0 : state.config.maxSteps - state.step;
  return {
    event: "progress",
    step: state.step,
    maxSteps: state.config.maxSteps,
    stepsPerSecond,
    ldet: lastValue(state.history.ldet),
    rule: state.config.stop.name,
    ruleValue: lastValue(state.history.criterion),
    etaSeconds: remaining === 0 ? 0 : stepsPerSecond > 0 ? remaining / stepsPerSecond : null,
  };
}

/** 75 -> "1m15s", 3725 -> "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const BAR_WIDTH = 20;

/** "[#####---------------] " for a terminal: the share of max steps done. */
export function progressBar(p: Progress): string {
  const filled = Math.max(0, Math.min(BAR_WIDTH, Math.round((p.step / p.maxSteps) * BAR_WIDTH)));
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] `;
}

const fmt = (x: number | null, digits = 5) => (x === null ? "-" : x.toPrecision(digits));

/** One human-readable progress line, e.g. "step 400/6100  2100 steps/s  L_det 0.12345  DVAR ratio 0.41  ETA <= 3s". */
export function progressLine(p: Progress): string {
  const rule = p.rule === "dvar" ? "DVAR ratio" : `${p.rule} value`;
  const rate = p.stepsPerSecond >= 100 ? String(Math.round(p.stepsPerSecond)) : p.stepsPerSecond.toPrecision(3);
  const eta = p.etaSeconds === null ? "-" : `<= ${formatDuration(p.etaSeconds)}`;
  return `step ${p.step}/${p.maxSteps}  ${rate} steps/s  L_det ${fmt(p.ldet)}  ${rule} ${fmt(p.ruleValue, 3)}  ETA ${eta}`;
}

export interface Summary {
  event: "done";
  status: "converged" | "max_steps" | "failed" | "interrupted";
  stoppedAtStep: number;
  reason: string;
  finalLdet: number | null;
  best: { step: number; ldet: number } | null;
  configHash: string;
  files: string[];
}

export function describeOutcome(outcome: SliceOutcome): string {
  switch (outcome.kind) {
    case "converged":
      return `stopping rule '${outcome.criterion}' fired (value ${fmt(outcome.value, 4)})`;
    case "max_steps":
      return `reached max_steps (${outcome.step})`;
    case "failed":
      return outcome.reason;
    case "continue":
      return "interrupted (Ctrl-C); the checkpoint holds every completed step";
  }
}

export function summaryLines(s: Summary): string[] {
  return [
    `${s.status === "interrupted" ? "Interrupted" : "Stopped"} at step ${s.stoppedAtStep}: ${s.reason}`,
    `final L_det ${fmt(s.finalLdet, 6)}; best L_det ${s.best ? `${fmt(s.best.ldet, 6)} at step ${s.best.step}` : "-"}`,
    "files:",
    ...s.files.map((f) => `  ${f}`),
  ];
}

const nullIfNaN = (x: number) => (Number.isNaN(x) ? null : x);

/** Histories as JSON: one array per series, null where a value was not computed. */
export function historyJson(state: InversionState, configHash: string): string {
  const history = Object.fromEntries(HISTORY_KEYS.map((k) => [k, state.history[k].map(nullIfNaN)]));
  return JSON.stringify({ config: state.config, configHash, step: state.step, finished: state.finished, history }) + "\n";
}

const CSV_COLUMNS: Array<[string, keyof InversionHistory]> = [
  ["train_loss", "trainLoss"],
  ["ldet", "ldet"],
  ["grad_norm", "gradNorm"],
  ["criterion", "criterion"],
  ["score", "score"],
  ["wall_ms", "wallMs"],
];

/** Histories as CSV: one row per step (1-based), empty cells where a value was not computed. */
export function historyCsv(history: InversionHistory): string {
  const rows = [["step", ...CSV_COLUMNS.map(([name]) => name)].join(",")];
  for (let i = 0; i < history.trainLoss.length; i++) {
    rows.push([String(i + 1), ...CSV_COLUMNS.map(([, key]) => (Number.isNaN(history[key][i]!) ? "" : String(history[key][i])))].join(","));
  }
  return rows.join("\n") + "\n";
}
