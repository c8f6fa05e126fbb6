/**
 * The dashboard's browser code (plain ES2020, no framework). It only talks to the public API
 * with the key kept in sessionStorage, so it works for every objective the API runs. Events are
 * read with fetch (EventSource cannot send an Authorization header); each `progress` event
 * triggers a GET of the job, whose histories feed three inline SVG charts. Samples come from
 * POST /v1/generations; their PNGs are fetched with the key and shown as blob: URLs.
 * Written without template literals so it can live in a TypeScript string.
 */
import { CRITERION_PRESETS } from "../../core/stopping/spec.js";
import { MAX_INPUT_IMAGES, MIN_INPUT_IMAGES } from "../schemas/inversion-request.js";
import { EMBEDDING_EXTENSIONS, type EmbeddingFormat } from "../../services/inversions/embedding-formats.js";

/** Button labels; the buttons themselves follow the job's `embedding_formats`. */
const EMBEDDING_LABELS = {
  diffusers: "Download diffusers embedding",
  a1111: "Download A1111 embedding (.safetensors)",
  "a1111-pt": "Download A1111 embedding (.pt)",
} as const satisfies Record<EmbeddingFormat, string>;

export const DASHBOARD_SCRIPT = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
const KEY = "dvar.apiKey";
const PRESETS = ${JSON.stringify({ dvar: CRITERION_PRESETS.dvar, "dvar-paper": CRITERION_PRESETS["dvar-paper"], "dvar-tiny-sd": CRITERION_PRESETS["dvar-tiny-sd"] })};
const EMBEDDING_LABELS = ${JSON.stringify(EMBEDDING_LABELS)};
const EMBEDDING_EXTENSIONS = ${JSON.stringify(EMBEDDING_EXTENSIONS)};
const uploads = [];
let watching = null; // { id, abort }
let current = null; // the latest GET /v1/inversions/{id}

class ApiProblem extends Error {}

async function api(path, init) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new ApiProblem("Enter an API key first.");
  const headers = new Headers((init && init.headers) || {});
  headers.set("authorization", "Bearer " + key);
  const response = await fetch(path, Object.assign({}, init, { headers }));
  if (!response.ok) {
    let detail = response.status + " " + response.statusText;
    try { const p = await response.json(); detail = (p.code ? p.code + ": " : "") + (p.detail || p.title || detail); } catch (e) { /* not JSON */ }
    throw new ApiProblem(detail);
  }
  return response;
}
const getJson = async (path, init) => (await api(path, init)).json();

function fmt(value, digits) {
  if (value === null || value === undefined) return "-";
  if (typeof value !== "number") return String(value);
  return Number.isInteger(value) && digits === undefined ? String(value) : value.toPrecision(digits || 4);
}

function setFacts(el, pairs) {
  el.textContent = "";
  for (const [name, value, testId] of pairs) {
    const dt = document.createElement("dt"); dt.textContent = name;
    const dd = document.createElement("dd"); dd.textContent = value;
    if (testId) dd.dataset.fact = testId;
    el.append(dt, dd);
  }
}

// ---- charts -------------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A line chart of (xs, ys) (nulls skipped) with optional horizontal and vertical markers. */
function lineChart(svg, xs, ys, options) {
  svg.textContent = "";
  const W = 320, H = 180, L = 44, R = 8, T = 8, B = 22;
  const points = [];
  for (let i = 0; i < xs.length; i++) if (ys[i] !== null && Number.isFinite(ys[i])) points.push([xs[i], ys[i]]);
  if (points.length === 0) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#656d76", "font-size": 11 }, options.empty || "no data yet"));
    return;
  }
  const xMax = Math.max(options.xMax || 0, points[points.length - 1][0], 1);
  let yMin = Math.min(...points.map((p) => p[1])), yMax = Math.max(...points.map((p) => p[1]));
  if (options.hline !== undefined) { yMin = Math.min(yMin, options.hline); yMax = Math.max(yMax, options.hline); }
  if (options.yFromZero) yMin = Math.min(0, yMin);
  if (yMax === yMin) { yMax += Math.abs(yMax) * 0.05 || 1; yMin -= Math.abs(yMin) * 0.05 || 1; }
  const pad = (yMax - yMin) * 0.05; yMin -= pad; yMax += pad;
  const sx = (x) => L + (x / xMax) * (W - L - R);
  const sy = (y) => T + (1 - (y - yMin) / (yMax - yMin)) * (H - T - B);
  svg.append(svgEl("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#d0d7de" }));
  for (const y of [yMin + pad, (yMin + yMax) / 2, yMax - pad]) {
    svg.append(svgEl("text", { x: L - 4, y: sy(y) + 3, "text-anchor": "end", fill: "#656d76", "font-size": 9 }, fmt(y, 3)));
  }
  svg.append(svgEl("text", { x: L, y: H - 6, fill: "#656d76", "font-size": 9 }, "0"));
  svg.append(svgEl("text", { x: W - R, y: H - 6, "text-anchor": "end", fill: "#656d76", "font-size": 9 }, "step " + xMax));
  const d = points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
  svg.append(svgEl("path", { d, fill: "none", stroke: options.color || "#0969da", "stroke-width": 1.3, "data-role": "series", "data-points": points.length }));
  if (options.hline !== undefined) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: sy(options.hline), y2: sy(options.hline), stroke: "#cf222e", "stroke-dasharray": "4 3", "data-role": "threshold", "data-value": options.hline }));
    svg.append(svgEl("text", { x: W - R - 2, y: sy(options.hline) - 3, "text-anchor": "end", fill: "#cf222e", "font-size": 10 }, options.hlineLabel || ""));
  }
  if (options.vline !== undefined) {
    svg.append(svgEl("line", { x1: sx(options.vline), x2: sx(options.vline), y1: T, y2: H - B, stroke: "#1a7f37", "stroke-dasharray": "2 2", "data-role": "stop", "data-step": options.vline }));
    svg.append(svgEl("text", { x: sx(options.vline) - 3, y: T + 11, "text-anchor": "end", fill: "#1a7f37", "font-size": 10 }, options.vlineLabel || ""));
  }
}

// ---- the selected job ---------------------------------------------------------------------
function render(job) {
  current = job;
  $("job-id").textContent = job.id;
  const status = $("job-status");
  status.textContent = job.status;
  status.className = "status-" + job.status;
  const h = job.histories || { step: [], train_loss: [], l_det: [], criterion: [] };
  const stop = job.stopping || {};
  const isDvar = stop.name === "dvar";
  const converged = job.outcome && job.outcome.kind === "converged" && isDvar ? job.outcome.step : undefined;
  const xMax = job.max_steps < 2 * job.step ? job.max_steps : Math.max(job.step, 1);
  lineChart($("chart-loss"), h.step, h.train_loss, { xMax, color: "#8250df" });
  lineChart($("chart-ldet"), h.step, h.l_det, { xMax, vline: converged });
  // Other rules report their own statistic in the criterion history; this chart is DVAR's.
  lineChart($("chart-ratio"), h.step, isDvar ? h.criterion : [], {
    xMax, yFromZero: true,
    hline: isDvar ? stop.threshold : undefined, hlineLabel: isDvar ? "alpha = " + stop.threshold : "",
    vline: converged, vlineLabel: converged !== undefined ? "DVAR stop @ " + converged : "",
    empty: isDvar ? "the ratio needs N = " + stop.window + " steps" : "not a DVAR job (rule: " + stop.name + ")",
  });
  setFacts($("job-facts"), [
    ["objective", fmt(job.objective), "objective"],
    ["step", job.step + " / " + job.max_steps, "step"],
    ["stopping", stop.name + (isDvar ? " (N=" + stop.window + ", alpha=" + stop.threshold + ")" : stop.steps ? " (" + stop.steps + " steps)" : ""), "stopping"],
    ["outcome", job.outcome ? job.outcome.kind + " at step " + job.outcome.step : "-", "outcome"],
    ["DVAR ratio", fmt(job.dvar_ratio), "dvar-ratio"],
    ["final L_det", fmt(lastFinite(h.l_det)), "l-det"],
    ["running", job.timings.running_seconds === null ? "-" : job.timings.running_seconds.toFixed(2) + " s", "running"],
    ["billed", job.usage.slices + " slices, " + job.usage.steps + " steps, " + job.usage.seconds.toFixed(3) + " s", "billed"],
    ["error", job.error ? job.error.code + ": " + job.error.message : "-", "error"],
  ]);
  $("cancel").disabled = !(job.status === "queued" || job.status === "running");
  renderDownloads(job.embedding_formats);
  $("download-note").textContent = job.status === "succeeded" && job.embedding_formats.length === 0 ? "this objective writes no embedding" : "";
  renderSampleForm(job);
  for (const row of document.querySelectorAll("tr.job")) row.classList.toggle("current", row.dataset.id === job.id);
}

/** One button per format the job has (rebuilt only when that list changes, so a click is never lost). */
function renderDownloads(formats) {
  const box = $("downloads");
  if (box.dataset.formats === formats.join(",")) return;
  box.dataset.formats = formats.join(",");
  box.textContent = "";
  for (const format of formats) {
    const button = document.createElement("button");
    button.type = "button";
    button.id = "download-" + format;
    button.dataset.format = format;
    button.textContent = EMBEDDING_LABELS[format] || "Download " + format + " embedding";
    box.append(button);
  }
}

async function download(format) {
  if (!current) return;
  try {
    const response = await api("/v1/inversions/" + current.id + "/embedding?format=" + encodeURIComponent(format));
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? name[1] : current.id + "-" + format + (EMBEDDING_EXTENSIONS[format] || "");
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) { showJobError(error); }
}

// ---- samples ------------------------------------------------------------------------------
let samplesFor = null; // the job id the samples panel was last set up for

function canSample(job) {
  return job.status === "succeeded" && job.objective === "textual_inversion" && job.placeholder_token !== null && job.embedding_formats.includes("diffusers");
}

function renderSampleForm(job) {
  const ready = canSample(job);
  $("sample-start").disabled = !ready;
  if (samplesFor !== job.id) {
    samplesFor = job.id;
    clearSamples();
    $("sample-error").textContent = "";
  }
  const prompt = $("sample-prompt");
  if (ready && !prompt.value.includes(job.placeholder_token)) prompt.value = "a photo of " + job.placeholder_token;
  $("samples-note").textContent = ready
    ? "The prompt must contain " + job.placeholder_token + "; image i is drawn from seed + i."
    : job.objective === "textual_inversion" && (job.status === "queued" || job.status === "running")
      ? "Samples can be drawn once the job has succeeded."
      : "Select a succeeded textual inversion job to draw from its token.";
}

function clearSamples() {
  const box = $("samples");
  for (const img of box.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  box.textContent = "";
  delete box.dataset.generation;
}

async function drawSamples() {
  if (!current || !canSample(current)) return;
  const job = current;
  $("sample-error").textContent = "";
  $("sample-start").disabled = true;
  try {
    const generation = await getJson("/v1/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inversion_id: job.id, prompt: $("sample-prompt").value, n: Number($("sample-n").value), steps: Number($("sample-steps").value), seed: Number($("sample-seed").value) }),
    });
    const figures = [];
    for (const image of generation.images) {
      const blob = await (await api(image.url)).blob();
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = generation.prompt + " (seed " + image.seed + ")";
      img.dataset.seed = String(image.seed);
      img.dataset.url = image.url;
      const caption = document.createElement("figcaption");
      caption.textContent = "seed " + image.seed;
      figure.append(img, caption);
      figures.push(figure);
    }
    if (!current || current.id !== job.id) return;
    clearSamples();
    $("samples").dataset.generation = generation.id;
    $("samples").append(...figures);
    $("samples-note").textContent = generation.images.length + " images, " + generation.scheduler + ", " + generation.steps + " steps, " + generation.usage.seconds.toFixed(2) + " s billed" + (generation.warnings.length ? " (" + generation.warnings.join("; ") + ")" : "");
    loadUsage().catch(showJobError);
  } catch (error) {
    $("sample-error").textContent = error.message || String(error);
  } finally {
    $("sample-start").disabled = !(current && canSample(current));
  }
}

function lastFinite(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/** Reads a text/event-stream body: yields {event, data, id} for each complete event. */
async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: "message", data: "", id: null };
      const data = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(text); else if (field === "event") event.event = text; else if (field === "id") event.id = text;
      }
      event.data = data.join("\n");
      if (data.length) yield event;
    }
  }
}

/** Follows one job: SSE progress events trigger a (coalesced) refresh of the detail view. */
async function watch(id) {
  if (watching) watching.abort.abort();
  const abort = new AbortController();
  watching = { id, abort };
  $("job-status").dataset.events = "0";
  let refreshing = null, again = false;
  const refresh = async () => {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      do { again = false; const job = await getJson("/v1/inversions/" + id); if (watching && watching.id === id) render(job); } while (again);
    })().finally(() => { refreshing = null; });
    return refreshing;
  };
  try {
    await refresh();
    const response = await api("/v1/inversions/" + id + "/events", { signal: abort.signal, headers: { accept: "text/event-stream" } });
    for await (const event of readEvents(response.body)) {
      if (event.event === "progress") {
        const summary = JSON.parse(event.data);
        $("job-status").textContent = summary.status;
        $("job-status").dataset.events = String(Number($("job-status").dataset.events || 0) + 1);
        refresh().catch(showJobError);
      } else if (event.event === "done") {
        break;
      }
    }
    await refresh();
    await Promise.all([loadJobs(), loadUsage()]);
  } catch (error) {
    if (!abort.signal.aborted) showJobError(error);
  }
}

function showJobError(error) { $("job-error").textContent = error.message || String(error); }

// ---- lists --------------------------------------------------------------------------------
async function loadJobs() {
  const list = await getJson("/v1/inversions?limit=15");
  const body = $("jobs");
  body.textContent = "";
  for (const job of list.data) {
    const row = document.createElement("tr");
    row.className = "job" + (current && current.id === job.id ? " current" : "");
    row.dataset.id = job.id;
    const stop = job.outcome ? job.outcome.kind + " @ " + job.outcome.step : "-";
    const cells = [job.id, fmt(job.objective), job.status, job.step + "/" + job.max_steps, stop, new Date(job.created_at).toLocaleTimeString()];
    for (const text of cells) { const td = document.createElement("td"); td.textContent = text; row.append(td); }
    row.children[2].className = "status-" + job.status;
    row.addEventListener("click", () => { $("job-error").textContent = ""; watch(job.id); });
    body.append(row);
  }
}

async function loadUsage() {
  const u = await getJson("/v1/usage");
  setFacts($("usage"), [["jobs", fmt(u.jobs), "usage-jobs"], ["slices", fmt(u.slices), "usage-slices"], ["generations", fmt(u.generations), "usage-generations"], ["steps", fmt(u.steps), "usage-steps"], ["billed seconds", u.seconds.toFixed(3), "usage-seconds"]]);
}

function renderUploads() {
  const list = $("uploads");
  list.textContent = "";
  for (const u of uploads) {
    const li = document.createElement("li");
    li.textContent = u.name + " (" + u.width + "x" + u.height + ") ";
    const code = document.createElement("code"); code.textContent = u.id; li.append(code);
    list.append(li);
  }
}

// ---- forms --------------------------------------------------------------------------------
function requestBody() {
  const objective = $("objective").value;
  const maxSteps = Number($("max-steps").value);
  const rule = $("stopping").value;
  const body = {
    objective,
    max_steps: maxSteps,
    seed: Number($("seed").value),
    stopping: rule === "fixed" ? { name: "fixed", steps: maxSteps } : PRESETS[rule],
  };
  if (objective === "textual_inversion") {
    if (uploads.length < ${MIN_INPUT_IMAGES} || uploads.length > ${MAX_INPUT_IMAGES}) throw new ApiProblem("Upload ${MIN_INPUT_IMAGES} to ${MAX_INPUT_IMAGES} training images for textual inversion (3-5 are best).");
    Object.assign(body, { model: $("model").value, placeholder_token: $("placeholder").value, initializer_token: $("initializer").value, images: uploads.map((u) => u.id) });
  }
  return body;
}

async function showKeyState() {
  const key = sessionStorage.getItem(KEY);
  $("key-state").textContent = key ? "key " + key.slice(0, 6) + "..." : "no key";
  if (!key) return;
  try { await Promise.all([loadJobs(), loadUsage()]); $("key-state").textContent += " (accepted)"; }
  catch (error) { $("key-state").textContent = error.message; }
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY, key);
  $("api-key").value = "";
  showKeyState();
});
$("key-forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); if (watching) watching.abort.abort(); showKeyState(); });
$("objective").addEventListener("change", () => { $("ti-fields").hidden = $("objective").value !== "textual_inversion"; });
$("ti-fields").hidden = $("objective").value !== "textual_inversion";
$("refresh").addEventListener("click", () => Promise.all([loadJobs(), loadUsage()]).catch(showJobError));

$("files").addEventListener("change", async () => {
  $("upload-error").textContent = "";
  for (const file of $("files").files) {
    try {
      const u = await getJson("/v1/uploads", { method: "POST", headers: { "content-type": file.type }, body: file });
      uploads.push(Object.assign({ name: file.name }, u));
      renderUploads();
    } catch (error) {
      $("upload-error").textContent = file.name + ": " + error.message;
    }
  }
  $("files").value = "";
});

$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("job-error").textContent = "";
  $("start").disabled = true;
  try {
    const job = await getJson("/v1/inversions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(requestBody()) });
    loadJobs().catch(showJobError);
    watch(job.id);
  } catch (error) {
    showJobError(error);
  } finally {
    $("start").disabled = false;
  }
});

$("sample-form").addEventListener("submit", (e) => { e.preventDefault(); drawSamples(); });

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  try { await api("/v1/inversions/" + current.id + "/cancel", { method: "POST" }); } catch (error) { showJobError(error); }
});

$("downloads").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-format]");
  if (button) download(button.dataset.format);
});

// A key handed over in the URL fragment (dvar serve --dev-key prints such a link; fragments
// never reach the server) is kept like a pasted one and removed from the address bar.
if (location.hash.indexOf("#key=") === 0) {
  sessionStorage.setItem(KEY, decodeURIComponent(location.hash.slice(5)));
  history.replaceState(null, "", location.pathname + location.search);
}
showKeyState();
`;
