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
export { historyPlotSvg, panelsPlotSvg, type PlotMark, type PlotOptions, type PlotPanel } from "./svg-plot.js";
export { HISTORY_FILES, writeHistoryOutputs } from "./write.js";
