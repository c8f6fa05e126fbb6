/**
 * The dashboard's HTML and CSS. Self-contained (no CDN, no build step): the behaviour is in
 * script.ts, served from /dashboard/app.js so the page's CSP can forbid inline scripts.
 */
import { CRITERION_PRESETS } from "../../core/stopping/spec.js";

/** A DVAR preset's option, labelled from the preset itself so the label cannot drift. */
function dvarOption(name: "dvar" | "dvar-paper" | "dvar-tiny-sd", note = ""): string {
  const p = CRITERION_PRESETS[name];
  return `<option value="${name}">${name} (N=${p.window}, alpha=${p.threshold}${note})</option>`;
}

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DVAR Textual Inversion: dashboard</title>
<style>
:root { --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --accent: #0969da; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: var(--ink); background: #f6f8fa; }
header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.05rem; margin: 0 auto 0 0; }
main { display: grid; grid-template-columns: 20rem 1fr; gap: 1rem; padding: 1rem 1.2rem; max-width: 80rem; margin: 0 auto; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
section h2 { font-size: .95rem; margin: 0 0 .6rem; }
label { display: block; margin: .35rem 0; color: var(--muted); font-size: .85rem; }
label input, label select { display: block; width: 100%; margin-top: .15rem; padding: .3rem .4rem; font: inherit; color: var(--ink); border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--line); border-radius: 4px; background: #f6f8fa; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.muted { color: var(--muted); font-size: .85rem; }
.error { color: var(--bad); min-height: 1.2em; }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: .8rem; }
.chart h3 { font-size: .85rem; margin: 0 0 .2rem; font-weight: 600; }
.chart svg { width: 100%; height: auto; background: #fff; border: 1px solid #eaeef2; border-radius: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; font-size: .85rem; }
th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid #eaeef2; }
tr.job { cursor: pointer; }
tr.job:hover, tr.job.current { background: #ddf4ff; }
.status-succeeded { color: var(--ok); } .status-failed, .status-canceled { color: var(--bad); } .status-running, .status-queued { color: var(--warn); }
code { font-size: .85em; }
#uploads li { font-size: .8rem; }
#samples-panel { margin-top: .8rem; border-top: 1px solid #eaeef2; padding-top: .6rem; }
#samples-panel h3 { font-size: .9rem; margin: 0 0 .4rem; }
#sample-form label { display: inline-block; margin: 0; }
#sample-form label input { display: inline-block; width: 4.5rem; }
#sample-form #sample-prompt { flex: 1 1 16rem; width: auto; padding: .3rem .4rem; font: inherit; border: 1px solid var(--line); border-radius: 4px; }
.samples { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
.samples figure { margin: 0; text-align: center; font-size: .75rem; color: var(--muted); }
.samples img { display: block; width: 128px; height: 128px; image-rendering: pixelated; border: 1px solid #eaeef2; border-radius: 4px; }
</style>
</head>
<body>
<header>
  <h1>DVAR Textual Inversion</h1>
  <form id="key-form" class="row">
    <input id="api-key" type="password" placeholder="API key (sk_...)" autocomplete="off" size="34">
    <button type="submit" id="key-save">Use key</button>
    <button type="button" id="key-forget">Forget</button>
  </form>
  <span id="key-state" class="muted">no key</span>
  <a href="/docs">API docs</a>
</header>
<main>
  <div>
    <section>
      <h2>Training images</h2>
      <input id="files" type="file" accept="image/png,image/jpeg,image/webp" multiple>
      <ul id="uploads"></ul>
      <div id="upload-error" class="error"></div>
    </section>
    <section>
      <h2>New job</h2>
      <form id="job-form">
        <label>Objective
          <select id="objective">
            <option value="synthetic">synthetic (CPU, for trying the API)</option>
            <option value="textual_inversion">textual inversion</option>
          </select>
        </label>
        <div id="ti-fields">
          <label>Model <input id="model" value="tiny-sd"></label>
          <label>Placeholder token <input id="placeholder" value="&lt;my-concept&gt;"></label>
          <label>Initializer token <input id="initializer" value="object"></label>
        </div>
        <label>Stopping rule
          <select id="stopping">
            ${dvarOption("dvar")}
            ${dvarOption("dvar-paper")}
            ${dvarOption("dvar-tiny-sd", "; calibrated for tiny-sd")}
            <option value="fixed">fixed (max steps)</option>
          </select>
        </label>
        <label>Max steps <input id="max-steps" type="number" min="1" max="20000" value="6100"></label>
        <label>Seed <input id="seed" type="number" min="0" value="0"></label>
        <div class="row"><button class="primary" id="start" type="submit">Start job</button></div>
        <div id="job-error" class="error"></div>
      </form>
    </section>
    <section>
      <h2>Usage</h2>
      <dl class="facts" id="usage"><dt>jobs</dt><dd>-</dd></dl>
    </section>
  </div>
  <div>
    <section>
      <h2>Job <code id="job-id">none selected</code> <span id="job-status"></span></h2>
      <div class="charts">
        <div class="chart"><h3>Training loss</h3><svg id="chart-loss" viewBox="0 0 320 180"></svg></div>
        <div class="chart"><h3>L_det (fixed evaluation batch)</h3><svg id="chart-ldet" viewBox="0 0 320 180"></svg></div>
        <div class="chart"><h3>DVAR ratio var(last N)/var(all)</h3><svg id="chart-ratio" viewBox="0 0 320 180"></svg></div>
      </div>
      <dl class="facts" id="job-facts"></dl>
      <div class="row" style="margin-top:.6rem">
        <button id="cancel" type="button" disabled>Cancel</button>
        <span id="downloads" class="row"></span>
        <span id="download-note" class="muted"></span>
      </div>
      <div id="samples-panel">
        <h3>Samples from the learned token</h3>
        <form id="sample-form" class="row">
          <input id="sample-prompt" aria-label="Prompt" placeholder="a photo of &lt;my-concept&gt;">
          <label>images <input id="sample-n" type="number" min="1" max="8" value="4"></label>
          <label>steps <input id="sample-steps" type="number" min="1" max="150" value="25"></label>
          <label>seed <input id="sample-seed" type="number" min="0" value="0"></label>
          <button id="sample-start" type="submit" disabled>Generate</button>
        </form>
        <p id="samples-note" class="muted">Select a succeeded textual inversion job to draw from its token.</p>
        <div id="samples" class="samples"></div>
        <div id="sample-error" class="error"></div>
      </div>
    </section>
    <section>
      <h2>Recent jobs <button id="refresh" type="button">Refresh</button></h2>
      <table><thead><tr><th>id</th><th>objective</th><th>status</th><th>step</th><th>stop</th><th>created</th></tr></thead><tbody id="jobs"></tbody></table>
    </section>
  </div>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;
