/**
 * Per-step histories of an inversion, as columns of equal length (one entry per
 * optimisation step, null where a quantity was not evaluated at that step), and their
 * JSON and CSV renderings.
 */

export interface StepHistories {
  /** The optimisation step of each row. */
  step: number[];
  trainLoss: (number | null)[];
  /** DVAR's deterministic evaluation loss. */
  lDet: (number | null)[];
  /** var(last N L_det) / var(all L_det); null until N values exist. */
  dvarRatio: (number | null)[];
  gradNorm: (number | null)[];
  /** Seconds since the run started, at the end of the step. */
  wallTime: (number | null)[];
}

/** What the run's stopping rule was and where it fired. */
export interface StopSummary {
  /** DVAR threshold: the run stops once the ratio falls below it. */
  alpha?: number;
  /** DVAR window N. */
  window?: number;
  /** The step at which the run stopped, or null if it ran to its step limit. */
  stopStep?: number | null;
  reason?: string;
}

export class HistoryError extends Error {
  override name = "HistoryError";
}

export const HISTORY_COLUMNS = ["step", "trainLoss", "lDet", "dvarRatio", "gradNorm", "wallTime"] as const;
type Column = (typeof HISTORY_COLUMNS)[number];

/** Snake-case names used in JSON keys and CSV headers. */
export const COLUMN_NAMES: Record<Column, string> = {
  step: "step",
  trainLoss: "train_loss",
  lDet: "l_det",
  dvarRatio: "dvar_ratio",
  gradNorm: "grad_norm",
  wallTime: "wall_time_s",
};

/** Equal lengths, integer increasing steps, finite numbers or null. Returns the row count. */
export function validateHistories(h: StepHistories): number {
  const rows = h.step?.length;
  if (!Array.isArray(h.step)) throw new HistoryError("histories need a step column");
  for (const column of HISTORY_COLUMNS) {
    const values = h[column];
    if (!Array.isArray(values)) throw new HistoryError(`history column ${column} is missing`);
    if (values.length !== rows) throw new HistoryError(`history column ${column} has ${values.length} entries, step has ${rows}`);
    values.forEach((v, i) => {
      if (v === null && column !== "step") return;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new HistoryError(`history ${column}[${i}] must be a finite number${column === "step" ? "" : " or null"}, got ${String(v)}`);
      }
    });
  }
  for (let i = 0; i < rows; i++) {
    if (!Number.isSafeInteger(h.step[i]) || (i > 0 && h.step[i]! <= h.step[i - 1]!)) {
      throw new HistoryError(`history steps must be increasing integers; step[${i}] = ${h.step[i]}`);
    }
  }
  return rows;
}

/** {"columns": {step, train_loss, ...}, "stop": {...}}: columns as arrays, nulls kept. */
export function historiesToJson(h: StepHistories, stop: StopSummary = {}): string {
  validateHistories(h);
  const columns = Object.fromEntries(HISTORY_COLUMNS.map((c) => [COLUMN_NAMES[c], h[c]]));
  const summary: Record<string, unknown> = {};
  if (stop.alpha !== undefined) summary.alpha = stop.alpha;
  if (stop.window !== undefined) summary.window = stop.window;
  if (stop.stopStep !== undefined) summary.stop_step = stop.stopStep;
  if (stop.reason !== undefined) summary.reason = stop.reason;
  return `${JSON.stringify({ version: 1, columns, stop: summary })}\n`;
}

/** One row per step, a header line, empty fields for null, numbers in shortest round-trip form, LF line ends. */
export function historiesToCsv(h: StepHistories): string {
  const rows = validateHistories(h);
  const lines = [HISTORY_COLUMNS.map((c) => COLUMN_NAMES[c]).join(",")];
  for (let i = 0; i < rows; i++) {
    lines.push(HISTORY_COLUMNS.map((c) => (h[c][i] === null ? "" : String(h[c][i]))).join(","));
  }
  return `${lines.join("\n")}\n`;
}
