import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HistoryError,
  panelsPlotSvg,
  historiesToCsv,
  historiesToJson,
  historyPlotSvg,
  type StepHistories,
  writeHistoryOutputs,
} from "../../../src/engine/report/index.js";
import { findAll, parseXml, type XmlElement } from "./xml-check.js";

const N = 50;
const ALPHA = 0.15;

function populationVariance(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
}

/** A DVAR-like run: L_det decays and flattens, the ratio falls under alpha at some step. */
function syntheticRun(steps: number): { h: StepHistories; stopStep: number } {
  const h: StepHistories = { step: [], trainLoss: [], lDet: [], dvarRatio: [], gradNorm: [], wallTime: [] };
  let stopStep = -1;
  for (let s = 0; s < steps; s++) {
    h.step.push(s);
    h.trainLoss.push(0.1 + 0.3 * Math.exp(-s / 40) + 0.05 * Math.sin(s * 1.7));
    h.lDet.push(0.12 + 0.2 * Math.exp(-s / 30) + 0.001 * Math.sin(s));
    const ratio = s + 1 >= N ? populationVariance(h.lDet.slice(s + 1 - N) as number[]) / populationVariance(h.lDet as number[]) : null;
    h.dvarRatio.push(ratio);
    h.gradNorm.push(s % 10 === 0 ? 1 / (s + 1) : null);
    h.wallTime.push(0.5 * (s + 1));
    if (stopStep < 0 && ratio !== null && ratio < ALPHA) stopStep = s;
  }
  return { h, stopStep };
}

const { h, stopStep } = syntheticRun(300);

const panel = (svg: XmlElement, series: string) => findAll(svg, (e) => e.name === "g" && e.attrs["data-series"] === series)[0]!;
const points = (g: XmlElement) =>
  findAll(g, (e) => e.name === "polyline").map((p) => p.attrs.points!.split(" ").map((xy) => xy.split(",").map(Number) as [number, number]));

describe("history JSON and CSV", () => {
  it("the synthetic run stops where DVAR would", () => {
    expect(stopStep).toBeGreaterThan(N);
    expect(stopStep).toBeLessThan(300);
  });

  it("JSON keeps every column, nulls included, and the stop summary", () => {
    const parsed = JSON.parse(historiesToJson(h, { alpha: ALPHA, window: N, stopStep, reason: "dvar" }));
    expect(parsed.version).toBe(1);
    expect(parsed.columns.step).toEqual(h.step);
    expect(parsed.columns.train_loss).toEqual(h.trainLoss);
    expect(parsed.columns.l_det).toEqual(h.lDet);
    expect(parsed.columns.dvar_ratio).toEqual(h.dvarRatio);
    expect(parsed.columns.grad_norm).toEqual(h.gradNorm);
    expect(parsed.columns.wall_time_s).toEqual(h.wallTime);
    expect(parsed.columns.dvar_ratio[N - 2]).toBeNull();
    expect(parsed.stop).toEqual({ alpha: ALPHA, window: N, stop_step: stopStep, reason: "dvar" });
  });

  it("CSV has a header, one row per step, empty fields for null and exactly round-tripping numbers", () => {
    const lines = historiesToCsv(h).trimEnd().split("\n");
    expect(lines[0]).toBe("step,train_loss,l_det,dvar_ratio,grad_norm,wall_time_s");
    expect(lines).toHaveLength(301);
    const row = (i: number) => lines[i + 1]!.split(",");
    expect(row(0)[3]).toBe(""); // no ratio before N values
    expect(row(1)[4]).toBe(""); // gradient norm not logged at step 1
    const r = row(N + 7);
    expect(Number(r[0])).toBe(N + 7);
    expect(Number(r[1])).toBe(h.trainLoss[N + 7]);
    expect(Number(r[2])).toBe(h.lDet[N + 7]);
    expect(Number(r[3])).toBe(h.dvarRatio[N + 7]);
  });

  it("refuses inconsistent histories", () => {
    expect(() => historiesToCsv({ ...h, lDet: h.lDet.slice(1) })).toThrow(/lDet has 299 entries, step has 300/);
    expect(() => historiesToJson({ ...h, trainLoss: [NaN, ...h.trainLoss.slice(1)] })).toThrow(/trainLoss\[0\] must be a finite number or null, got NaN/);
    expect(() => historyPlotSvg({ ...h, step: [1, ...h.step.slice(1)] })).toThrow(/increasing integers; step\[1\] = 1/);
    expect(() => historiesToCsv({ ...h, step: [null as never, ...h.step.slice(1)] })).toThrow(HistoryError);
  });
});

describe("history plot (SVG)", () => {
  const svgText = historyPlotSvg(h, { alpha: ALPHA, window: N, stopStep }, { title: "concept <cat-toy> & friends" });
  const svg = parseXml(svgText);

  it("is well-formed SVG with three panels, escaping the title", () => {
    expect(svg.name).toBe("svg");
    expect(svg.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
    const series = findAll(svg, (e) => e.name === "g" && e.attrs.class === "panel").map((g) => g.attrs["data-series"]);
    expect(series).toEqual(["train_loss", "l_det", "dvar_ratio"]);
    expect(findAll(svg, (e) => e.name === "text" && e.text === "concept <cat-toy> & friends")).toHaveLength(1);
    expect(svgText).toContain("concept &lt;cat-toy&gt; &amp; friends");
  });

  it("draws each series over its steps, starting the ratio where N values exist", () => {
    const loss = points(panel(svg, "train_loss"));
    expect(loss).toHaveLength(1);
    expect(loss[0]).toHaveLength(300);
    const ratio = points(panel(svg, "dvar_ratio"));
    expect(ratio).toHaveLength(1);
    expect(ratio[0]).toHaveLength(300 - (N - 1));
    // Lower values sit lower on the page (larger y): the loss decays, so y grows overall.
    expect(loss[0]![299]![1]).toBeGreaterThan(loss[0]![0]![1]);
  });

  it("draws the alpha line at alpha on the ratio panel's axis", () => {
    const g = panel(svg, "dvar_ratio");
    const [line] = findAll(g, (e) => e.attrs.class === "threshold");
    expect(line!.attrs["data-value"]).toBe(String(ALPHA));
    const [min, max, top, bottom] = ["data-y-min", "data-y-max", "data-top", "data-bottom"].map((k) => Number(g.attrs[k]));
    const expectedY = bottom! + ((ALPHA - min!) / (max! - min!)) * (top! - bottom!);
    expect(Number(line!.attrs.y1)).toBeCloseTo(expectedY, 1);
    expect(findAll(panel(svg, "l_det"), (e) => e.attrs.class === "threshold")).toHaveLength(0);
  });

  it("marks the stop step in every panel at the x of that step", () => {
    const stops = findAll(svg, (e) => e.attrs.class === "stop");
    expect(stops).toHaveLength(3);
    const lDetPoints = points(panel(svg, "l_det"))[0]!;
    for (const s of stops) {
      expect(s.attrs["data-step"]).toBe(String(stopStep));
      expect(Number(s.attrs.x1)).toBeCloseTo(lDetPoints[stopStep]![0], 2);
    }
  });

  it("breaks lines at gaps and omits the stop marker for a run that hit its limit", () => {
    const gappy = { ...h, lDet: h.lDet.map((v, i) => (i >= 100 && i < 110 ? null : v)) };
    const doc = parseXml(historyPlotSvg(gappy, { alpha: ALPHA, stopStep: null }));
    const runs = points(panel(doc, "l_det"));
    expect(runs.map((r) => r.length)).toEqual([100, 190]);
    expect(findAll(doc, (e) => e.attrs.class === "stop")).toHaveLength(0);
  });

  it("renders empty and constant histories without NaN coordinates", () => {
    const empty = { step: [], trainLoss: [], lDet: [], dvarRatio: [], gradNorm: [], wallTime: [] };
    const flat = { step: [0, 1, 2], trainLoss: [1, 1, 1], lDet: [0, 0, 0], dvarRatio: [null, null, null], gradNorm: [null, null, null], wallTime: [1, 2, 3] };
    for (const text of [historyPlotSvg(empty), historyPlotSvg(flat, { alpha: ALPHA, stopStep: 2 })]) {
      expect(parseXml(text).name).toBe("svg");
      expect(text).not.toMatch(/NaN|Infinity/);
    }
  });
});

describe("history files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dvar-hist-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes history.json, history.csv and history.svg", async () => {
    const paths = await writeHistoryOutputs(dir, h, { alpha: ALPHA, stopStep });
    expect(paths.map((p) => p.slice(dir.length + 1))).toEqual(["history.json", "history.csv", "history.svg"]);
    expect(JSON.parse(await readFile(paths[0]!, "utf8")).stop.stop_step).toBe(stopStep);
    expect(parseXml(await readFile(paths[2]!, "utf8")).name).toBe("svg");
  });

  it("writes nothing for invalid histories", async () => {
    const other = join(dir, "bad");
    await expect(writeHistoryOutputs(other, { ...h, wallTime: [] })).rejects.toThrow(HistoryError);
    expect(existsSync(join(other, "history.json"))).toBe(false);
  });
});

describe("the test's XML checker", () => {
  it("rejects malformed documents (so the well-formedness checks can fail)", () => {
    for (const bad of ["<a><b></a>", "<a x=1/>", "<a>&</a>", "<a></a><b/>", "<a>", '<a x="1" x="2"/>', "text<a/>"]) {
      expect(() => parseXml(bad), bad).toThrow();
    }
    expect(parseXml('<?xml version="1.0"?>\n<a k="&lt;v&gt;"><b/>t&amp;u</a>')).toMatchObject({ name: "a", attrs: { k: "<v>" }, text: "t&u" });
  });
});

describe("panel plots of long series", () => {
  it("draws at most two points per pixel column, keeping each column's lowest and highest value", () => {
    const steps = Array.from({ length: 6100 }, (_, i) => i + 1);
    const values = steps.map((s) => Math.sin(s) + (s === 3000 ? 5 : 0));
    const svg = parseXml(panelsPlotSvg(steps, [{ key: "v", title: "v", values }, { key: "sparse", title: "every 50", values: steps.map((s) => (s % 50 === 0 ? s : null)), connectGaps: true }]));
    const [dense] = points(panel(svg, "v"));
    expect(dense!.length).toBeLessThanOrEqual(2 * (720 - 64 - 16 + 1)); // columns 64..704
    expect(dense!.length).toBeGreaterThan(600);
    const y = (g: XmlElement) => ({ min: Number(g.attrs["data-y-min"]), max: Number(g.attrs["data-y-max"]), top: Number(g.attrs["data-top"]), bottom: Number(g.attrs["data-bottom"]) });
    const { top } = y(panel(svg, "v"));
    expect(Math.min(...dense!.map(([, py]) => py))).toBe(top); // the spike at step 3000 survives
    const sparse = points(panel(svg, "sparse"));
    expect(sparse).toHaveLength(1); // one line through the gaps
    expect(sparse[0]).toHaveLength(122);
  });
});
