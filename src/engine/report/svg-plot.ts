/**
 * Dependency-free SVG plots of per-step series: stacked panels sharing the step axis,
 * threshold lines, and marked steps. An inversion's histories use three panels (training
 * loss, L_det, DVAR ratio, the alpha line and the stop marked); `dvar evaluate` draws the
 * paper's Figure 1 with the same code. Gaps (null values) break the lines.
 */
import { type StepHistories, type StopSummary, validateHistories } from "./histories.js";

const WIDTH = 720;
const PANEL_HEIGHT = 180;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 28 };
const GAP = 36;

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

/** Tick label: short, and in exponent form for very small or large magnitudes. */
function label(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

interface Scale {
  min: number;
  max: number;
  at(v: number): number;
}

function linearScale(min: number, max: number, from: number, to: number): Scale {
  if (min === max) [min, max] = min === 0 ? [-1, 1] : [min - Math.abs(min) * 0.1, max + Math.abs(max) * 0.1];
  return { min, max, at: (v) => from + ((v - min) / (max - min)) * (to - from) };
}

/** One panel: a series over the plot's steps (null where not evaluated). */
export interface PlotPanel {
  key: string;
  title: string;
  values: (number | null)[];
  threshold?: number;
  /** Join the values across nulls (a series evaluated every k steps) instead of breaking the line. */
  connectGaps?: boolean;
}

/** A vertical marker at a step in every panel, labelled in the first. */
export interface PlotMark {
  step: number;
  label: string;
  color?: string;
}

export interface PlotOptions {
  title?: string;
}

/** The histories of one run: training loss, L_det and the DVAR ratio, the stop marked. */
export function historyPlotSvg(h: StepHistories, stop: StopSummary = {}, options: PlotOptions = {}): string {
  validateHistories(h);
  const panels: PlotPanel[] = [
    { key: "train_loss", title: "training loss", values: h.trainLoss },
    { key: "l_det", title: "L_det (deterministic eval loss)", values: h.lDet },
    { key: "dvar_ratio", title: "DVAR ratio var(last N) / var(all)", values: h.dvarRatio, ...(stop.alpha !== undefined ? { threshold: stop.alpha } : {}) },
  ];
  const marks = stop.stopStep !== undefined && stop.stopStep !== null ? [{ step: stop.stopStep, label: `stop @ ${stop.stopStep}` }] : [];
  return panelsPlotSvg(h.step, panels, marks, options);
}

/**
 * Points of a polyline: all of them, or, when there are more than two per pixel column,
 * the lowest and highest value of each column in step order (what the dense line would
 * cover), so a 6,100-step series stays a small file.
 */
function decimate(points: Array<[number, number]>, plotWidth: number): Array<[number, number]> {
  if (points.length <= 2 * plotWidth) return points;
  const out: Array<[number, number]> = [];
  let start = 0;
  while (start < points.length) {
    const column = Math.floor(points[start]![0]);
    let end = start, lowest = start, highest = start;
    while (end + 1 < points.length && Math.floor(points[end + 1]![0]) === column) {
      end++;
      if (points[end]![1] < points[lowest]![1]) lowest = end;
      if (points[end]![1] > points[highest]![1]) highest = end;
    }
    for (const i of lowest === highest ? [lowest] : [Math.min(lowest, highest), Math.max(lowest, highest)]) out.push(points[i]!);
    start = end + 1;
  }
  return out;
}

/** Stacked panels sharing the step axis, thresholds dashed, marks as vertical lines. */
export function panelsPlotSvg(steps: readonly number[], panels: readonly PlotPanel[], marks: readonly PlotMark[] = [], options: PlotOptions = {}): string {
  const rows = steps.length;
  const plotTop = MARGIN.top + (options.title ? 20 : 0);
  const height = plotTop + panels.length * PANEL_HEIGHT + (panels.length - 1) * GAP + MARGIN.bottom;
  const firstStep = rows > 0 ? steps[0]! : 0;
  const lastStep = rows > 0 ? steps[rows - 1]! : 1;
  const x = linearScale(firstStep, lastStep, MARGIN.left, WIDTH - MARGIN.right);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
  ];
  if (options.title) out.push(`<text x="${MARGIN.left}" y="16" font-size="13" font-weight="bold">${escapeXml(options.title)}</text>`);

  panels.forEach((panel, p) => {
    const top = plotTop + p * (PANEL_HEIGHT + GAP);
    const bottom = top + PANEL_HEIGHT;
    const finite = panel.values.filter((v): v is number => v !== null);
    if (panel.threshold !== undefined) finite.push(panel.threshold);
    const y = linearScale(finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1, bottom, top);
    out.push(`<g class="panel" data-series="${panel.key}" data-y-min="${y.min}" data-y-max="${y.max}" data-top="${top}" data-bottom="${bottom}">`);
    out.push(`<text x="${MARGIN.left}" y="${top - 6}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`);
    for (const v of [y.min, (y.min + y.max) / 2, y.max]) {
      out.push(`<text x="${MARGIN.left - 4}" y="${fmt(y.at(v) + 4)}" text-anchor="end">${label(v)}</text>`);
    }
    // One polyline per run of evaluated steps (or one for all of them with connectGaps).
    let run: Array<[number, number]> = [];
    const flush = () => {
      if (run.length > 0) {
        const points = decimate(run, plotWidth).map(([px, py]) => `${fmt(px)},${fmt(py)}`);
        out.push(`<polyline class="series" fill="none" stroke="#1f77b4" stroke-width="1" points="${points.join(" ")}"/>`);
      }
      run = [];
    };
    panel.values.forEach((v, i) => {
      if (v !== null) run.push([x.at(steps[i]!), y.at(v)]);
      else if (!panel.connectGaps) flush();
    });
    flush();
    if (panel.threshold !== undefined) {
      const ty = fmt(y.at(panel.threshold));
      out.push(`<line class="threshold" data-value="${panel.threshold}" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${ty}" y2="${ty}" stroke="#d62728" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${WIDTH - MARGIN.right - 4}" y="${fmt(Number(ty) - 4)}" text-anchor="end" fill="#d62728">alpha = ${label(panel.threshold)}</text>`);
    }
    marks.forEach((mark, m) => {
      const sx = fmt(x.at(mark.step));
      const color = mark.color ?? "#2ca02c";
      out.push(`<line class="stop" data-step="${mark.step}" x1="${sx}" x2="${sx}" y1="${top}" y2="${bottom}" stroke="${color}" stroke-width="1.5"/>`);
      // Near the right edge (DVAR stops end the run, so usually there) the label ends at the line.
      const anchor = Number(sx) > WIDTH - MARGIN.right - 60 ? "end" : "middle";
      if (p === 0) out.push(`<text x="${sx}" y="${top + 12 + 12 * m}" fill="${color}" text-anchor="${anchor}">${escapeXml(mark.label)}</text>`);
    });
    out.push(`</g>`);
  });
  const axisY = height - MARGIN.bottom + 16;
  out.push(`<text x="${MARGIN.left}" y="${axisY}">step ${firstStep}</text>`);
  out.push(`<text x="${WIDTH - MARGIN.right}" y="${axisY}" text-anchor="end">step ${lastStep}</text>`);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
