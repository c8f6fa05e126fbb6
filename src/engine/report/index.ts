export {
  COLUMN_NAMES,
  HISTORY_COLUMNS,
  HistoryError,
  historiesToCsv,
  historiesToJson,
  type StepHistories,
  type StopSummary,
  validateHistories,
} from "./histories.js";
export { historyPlotSvg, type PlotOptions } from "./svg-plot.js";
export { HISTORY_FILES, writeHistoryOutputs } from "./write.js";
