/**
 * A dependency-free SVG of an inversion's histories: three stacked panels sharing the
 * step axis (training loss, L_det, DVAR ratio), the ratio panel with the alpha threshold
 * line, and the stop step marked in every panel. Gaps (null values) break the lines.
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

interface PanelSpec {
  key: string;
  title: string;
  values: (number | null)[];
  threshold?: number;
}

export interface PlotOptions {
  title?: string;
}

export function historyPlotSvg(h: StepHistories, stop: StopSummary = {}, options: PlotOptions = {}): string {
  const rows = validateHistories(h);
  const panels: PanelSpec[] = [
    { key: "train_loss", title: "training loss", values: h.trainLoss },
    { key: "l_det", title: "L_det (deterministic eval loss)", values: h.lDet },
    { key: "dvar_ratio", title: "DVAR ratio var(last N) / var(all)", values: h.dvarRatio, ...(stop.alpha !== undefined ? { threshold: stop.alpha } : {}) },
  ];
  const plotTop = MARGIN.top + (options.title ? 20 : 0);
  const height = plotTop + panels.length * PANEL_HEIGHT + (panels.length - 1) * GAP + MARGIN.bottom;
  const firstStep = rows > 0 ? h.step[0]! : 0;
  const lastStep = rows > 0 ? h.step[rows - 1]! : 1;
  const x = linearScale(firstStep, lastStep, MARGIN.left, WIDTH - MARGIN.right);
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
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`);
    for (const v of [y.min, (y.min + y.max) / 2, y.max]) {
      out.push(`<text x="${MARGIN.left - 4}" y="${fmt(y.at(v) + 4)}" text-anchor="end">${label(v)}</text>`);
    }
    // One polyline per run of evaluated steps.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 0) out.push(`<polyline class="series" fill="none" stroke="#1f77b4" stroke-width="1" points="${run.join(" ")}"/>`);
      run = [];
    };
    panel.values.forEach((v, i) => (v === null ? flush() : run.push(`${fmt(x.at(h.step[i]!))},${fmt(y.at(v))}`)));
    flush();
    if (panel.threshold !== undefined) {
      const ty = fmt(y.at(panel.threshold));
      out.push(`<line class="threshold" data-value="${panel.threshold}" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${ty}" y2="${ty}" stroke="#d62728" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${WIDTH - MARGIN.right - 4}" y="${fmt(Number(ty) - 4)}" text-anchor="end" fill="#d62728">alpha = ${label(panel.threshold)}</text>`);
    }
    if (stop.stopStep !== undefined && stop.stopStep !== null) {
      const sx = fmt(x.at(stop.stopStep));
      out.push(`<line class="stop" data-step="${stop.stopStep}" x1="${sx}" x2="${sx}" y1="${top}" y2="${bottom}" stroke="#2ca02c" stroke-width="1.5"/>`);
      // Near the right edge (DVAR stops end the run, so usually there) the label ends at the line.
      const anchor = Number(sx) > WIDTH - MARGIN.right - 60 ? "end" : "middle";
      if (p === 0) out.push(`<text x="${sx}" y="${top + 12}" fill="#2ca02c" text-anchor="${anchor}">stop @ ${stop.stopStep}</text>`);
    }
    out.push(`</g>`);
  });
  const axisY = height - MARGIN.bottom + 16;
  out.push(`<text x="${MARGIN.left}" y="${axisY}">step ${firstStep}</text>`);
  out.push(`<text x="${WIDTH - MARGIN.right}" y="${axisY}" text-anchor="end">step ${lastStep}</text>`);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
