/** Writes the histories next to the embeddings: history.json, history.csv and history.svg. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { historiesToCsv, historiesToJson, type StepHistories, type StopSummary } from "./histories.js";
import { historyPlotSvg, type PlotOptions } from "./svg-plot.js";

export const HISTORY_FILES = { json: "history.json", csv: "history.csv", svg: "history.svg" } as const;

export async function writeHistoryOutputs(dir: string, h: StepHistories, stop: StopSummary = {}, options: PlotOptions = {}): Promise<string[]> {
  // Render everything first so that invalid histories leave no partial output.
  const files: Array<[string, string]> = [
    [HISTORY_FILES.json, historiesToJson(h, stop)],
    [HISTORY_FILES.csv, historiesToCsv(h)],
    [HISTORY_FILES.svg, historyPlotSvg(h, stop, options)],
  ];
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(path, text, "utf8");
    paths.push(path);
  }
  return paths;
}
