import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { runKeys } from "../../../src/cli/keys.js";
import { decodeSafetensors, encodeSafetensors } from "../../../src/core/io/safetensors.js";
import { decodeEmbedding, encodeA1111PtEmbedding } from "../../../src/engine/embeddings/index.js";
import { outputsPrefix, type OutputWriter } from "../../../src/services/slices/index.js";
import { createHarness } from "../api/harness.js";
import { JobStore } from "../../../src/services/jobs/index.js";
import { startEmbeddedServer, type EmbeddedServer } from "../../../src/server/embedded.js";
import { chromiumInstalled, chromiumRequired, launchChromium, type Browser } from "../../support/chromium.js";

/**
 * The dashboard end to end in headless Chromium against `dvar serve`'s embedded server: a key
 * from `dvar keys create`, an upload and a synthetic DVAR job started through the UI, followed
 * live over SSE until the DVAR stop, and the numbers shown checked against the API; a textual
 * inversion of the bundled concept on the bundled model, and samples drawn from its token.
 * DVAR_DASHBOARD_SCREENSHOT=path also writes a screenshot (docs/dashboard.png is made so), and
 * DVAR_DASHBOARD_SAMPLES_SCREENSHOT=path one of the samples panel (docs/dashboard-samples.png).
 * Runs wherever /usr/bin/chromium exists and is required under CI=true.
 */
if (chromiumInstalled() || chromiumRequired) {
  let store: string;
  let server: EmbeddedServer;
  let browser: Browser;
  let key: string;

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), "dvar-dashboard-"));
    let printed = "";
    await runKeys(["create", "--tenant", "dash", "--store", store, "--json"], { stdout: { write: (t: string) => (printed += t) }, env: {} });
    key = (JSON.parse(printed) as { key: string }).key;
    // Slices of 40 steps: the job advances in many revisions, each one an SSE progress event.
    server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE_DIR: store, DVAR_SLICE_MAX_STEPS: "40" }, log: () => {} });
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (store) rmSync(store, { recursive: true, force: true });
  }, 30_000);

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };

  describe("the dashboard in headless Chromium", () => {
    it("uploads, starts a synthetic DVAR job, shows it live until the stop, and shows what the API says", async () => {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      await page.goto(`${server.url}/`);
      expect(page.url()).toBe(`${server.url}/dashboard`);

      await page.fill("#api-key", key);
      await page.click("#key-save");
      await page.waitForFunction(() => document.getElementById("key-state")?.textContent?.includes("accepted"));
      expect(await page.evaluate(() => sessionStorage.getItem("dvar.apiKey"))).toBe(key);

      const png = await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: 200, g: 80, b: 40 } } }).png().toBuffer();
      await page.setInputFiles("#files", { name: "concept.png", mimeType: "image/png", buffer: png });
      await page.waitForSelector("#uploads li code");
      expect(await page.textContent("#uploads li")).toMatch(/^concept\.png \(16x12\) upl_[A-Za-z0-9]+$/);

      await page.selectOption("#objective", "synthetic");
      expect(await page.isHidden("#ti-fields")).toBe(true);
      await page.selectOption("#stopping", "dvar");
      await page.fill("#max-steps", "3000");
      await page.fill("#seed", "11");
      await page.click("#start");

      // The live chart draws the DVAR stop once the job has converged.
      await page.waitForSelector("#chart-ratio [data-role=stop]", { state: "attached", timeout: 45_000 });
      await page.waitForFunction(() => document.getElementById("job-status")?.textContent === "succeeded");
      const id = (await page.textContent("#job-id"))!;
      expect(id).toMatch(/^inv_/);
      expect(Number(await page.getAttribute("#job-status", "data-events"))).toBeGreaterThanOrEqual(1);

      const job = await api<{
        status: string; step: number; max_steps: number; outcome: { kind: string; step: number };
        stopping: { name: string; window: number; threshold: number }; dvar_ratio: number;
        histories: { criterion: Array<number | null>; train_loss: Array<number | null> };
        usage: { slices: number; steps: number; seconds: number };
      }>(`/v1/inversions/${id}`);
      expect(job).toMatchObject({ status: "succeeded", max_steps: 3000, outcome: { kind: "converged" }, stopping: { name: "dvar", window: 310, threshold: 0.15 } });
      expect(job.step).toBeLessThan(3000);
      expect(job.dvar_ratio).toBeLessThan(0.15);
      expect(job.usage.slices).toBeGreaterThan(1);

      const fact = (name: string) => page.textContent(`#job-facts [data-fact=${name}]`);
      expect(await fact("step")).toBe(`${job.step} / 3000`);
      expect(await fact("outcome")).toBe(`converged at step ${job.outcome.step}`);
      expect(await fact("dvar-ratio")).toBe(job.dvar_ratio.toPrecision(4));
      expect(await fact("billed")).toBe(`${job.usage.slices} slices, ${job.usage.steps} steps, ${job.usage.seconds.toFixed(3)} s`);
      expect(Number(await page.getAttribute("#chart-ratio [data-role=stop]", "data-step"))).toBe(job.outcome.step);
      expect(Number(await page.getAttribute("#chart-ratio [data-role=threshold]", "data-value"))).toBe(0.15);
      expect(await page.textContent("#chart-ratio")).toContain("alpha = 0.15");
      const finite = (values: Array<number | null>) => values.filter((v) => v !== null).length;
      expect(Number(await page.getAttribute("#chart-ratio [data-role=series]", "data-points"))).toBe(finite(job.histories.criterion));
      expect(Number(await page.getAttribute("#chart-loss [data-role=series]", "data-points"))).toBe(finite(job.histories.train_loss));

      // A synthetic job writes no embedding: no download is offered and the page says why.
      expect(await page.$$eval("#downloads button", (buttons) => buttons.length)).toBe(0);
      expect(await page.textContent("#download-note")).toBe("this objective writes no embedding");
      // Nor can it be drawn from: the samples panel says what it needs.
      expect(await page.isDisabled("#sample-start")).toBe(true);
      expect(await page.textContent("#samples-note")).toBe("Select a succeeded textual inversion job to draw from its token.");

      const usage = await api<{ jobs: number; slices: number; steps: number; seconds: number }>("/v1/usage");
      await page.waitForFunction((steps) => document.querySelector("#usage [data-fact=usage-steps]")?.textContent === String(steps), usage.steps);
      expect(await page.textContent("#usage [data-fact=usage-jobs]")).toBe(String(usage.jobs));
      expect(await page.textContent("#usage [data-fact=usage-seconds]")).toBe(usage.seconds.toFixed(3));
      expect(await page.textContent(`#jobs tr[data-id="${id}"]`)).toContain("succeeded");

      if (process.env.DVAR_DASHBOARD_SCREENSHOT) await page.screenshot({ path: resolve(process.env.DVAR_DASHBOARD_SCREENSHOT), fullPage: true });
      expect(pageErrors).toEqual([]);
      await page.close();
    });

    it("sends a textual inversion job with the uploads and tokens, and shows its end as the API does", async () => {
      const page = await browser.context.newPage();
      try {
        await page.goto(`${server.url}/dashboard`);
        // sessionStorage belongs to the tab: a new tab asks for the key again.
        expect(await page.textContent("#key-state")).toBe("no key");
        await page.fill("#api-key", key);
        await page.click("#key-save");
        await page.selectOption("#objective", "textual_inversion");
        expect(await page.isVisible("#ti-fields")).toBe(true);
        await page.fill("#placeholder", "<cat-toy>");
        await page.fill("#initializer", "circle");
        await page.selectOption("#stopping", "fixed");
        await page.fill("#max-steps", "2");
        await page.click("#start");
        expect(await page.textContent("#job-error")).toBe("Upload 3 to 10 training images for textual inversion (3-5 are best).");
        // Three images (the fewest the API accepts) at the bundled model's 32 px resolution.
        const files = [];
        for (const [i, r] of [10, 90, 170].entries()) {
          const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g: 120, b: 200 } } }).png().toBuffer();
          files.push({ name: `toy-${i}.png`, mimeType: "image/png", buffer: png });
        }
        await page.setInputFiles("#files", files);
        await page.waitForFunction(() => document.querySelectorAll("#uploads li code").length === 3);
        const uploadIds = await page.$$eval("#uploads li code", (codes) => codes.map((c) => c.textContent!));
        await page.click("#start");
        await page.waitForFunction(() => ["succeeded", "failed", "canceled"].includes(document.getElementById("job-status")?.textContent ?? ""), undefined, { timeout: 45_000 });
        const id = (await page.textContent("#job-id"))!;
        const record = (await new JobStore(server.store).read(id))!.record;
        expect(record.config.objective).toMatchObject({ kind: "textual-inversion", model: "tiny-sd", placeholderToken: "<cat-toy>", initializerToken: "circle" });
        expect((record.config.objective as { images: string[] }).images).toEqual(uploadIds.map((u) => expect.stringContaining(u)));
        const job = await api<{ status: string; objective: string; error: { code: string; message: string } | null }>(`/v1/inversions/${id}`);
        expect(job.objective).toBe("textual_inversion");
        expect(await page.textContent("#job-status")).toBe(job.status);
        expect(await page.textContent("#job-facts [data-fact=error]")).toBe(job.error ? `${job.error.code}: ${job.error.message}` : "-");
        expect(await page.isDisabled("#sample-start")).toBe(job.status !== "succeeded");
      } finally {
        await page.close();
      }
    });

    it("learns the bundled concept on the bundled model and shows samples drawn from its token", async () => {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      try {
        await page.goto(`${server.url}/dashboard`);
        await page.fill("#api-key", key);
        await page.click("#key-save");
        await page.waitForFunction(() => document.getElementById("key-state")?.textContent?.includes("accepted"));
        const concept = "examples/concepts/arrow";
        const files = readdirSync(concept).filter((f) => f.endsWith(".png")).sort();
        await page.setInputFiles("#files", files.map((f) => join(concept, f)));
        await page.waitForFunction((n) => document.querySelectorAll("#uploads li code").length === n, files.length);
        await page.selectOption("#objective", "textual_inversion");
        await page.fill("#placeholder", "<arrow>");
        await page.fill("#initializer", "circle");
        await page.selectOption("#stopping", "fixed");
        await page.fill("#max-steps", "4");
        await page.click("#start");
        await page.waitForFunction(() => ["succeeded", "failed", "canceled"].includes(document.getElementById("job-status")?.textContent ?? ""), undefined, { timeout: 90_000 });
        expect(await page.textContent("#job-facts [data-fact=error]")).toBe("-");
        expect(await page.textContent("#job-status")).toBe("succeeded");
        const id = (await page.textContent("#job-id"))!;

        // The panel offers the job's token; draw 2 images of 4 steps from seed 3.
        await page.waitForSelector("#sample-start:not([disabled])");
        expect(await page.inputValue("#sample-prompt")).toBe("a photo of <arrow>");
        await page.fill("#sample-n", "2");
        await page.fill("#sample-steps", "4");
        await page.fill("#sample-seed", "3");
        await page.click("#sample-start");
        await page.waitForFunction(() => document.querySelectorAll("#samples img").length === 2 && [...document.querySelectorAll<HTMLImageElement>("#samples img")].every((img) => img.complete && img.naturalWidth > 0), undefined, { timeout: 60_000 });
        const generationId = (await page.getAttribute("#samples", "data-generation"))!;
        const generation = await api<{ inversion_id: string; status: string; prompt: string; images: Array<{ seed: number; url: string; width: number; height: number }> }>(`/v1/generations/${generationId}`);
        expect(generation).toMatchObject({ inversion_id: id, status: "succeeded", prompt: "a photo of <arrow>" });
        const shown = await page.$$eval("#samples img", (imgs) => (imgs as HTMLImageElement[]).map((img) => ({ seed: Number(img.dataset.seed), url: img.dataset.url, width: img.naturalWidth, height: img.naturalHeight })));
        expect(shown).toEqual(generation.images.map((i) => ({ seed: i.seed, url: i.url, width: i.width, height: i.height })));
        expect(shown.map((s) => s.seed)).toEqual([3, 4]);
        // The pictures on the page are the API's PNGs, pixel for pixel (read back through a canvas:
        // the page's CSP lets it fetch nothing but its own origin, blob: URLs included).
        const onPage = await page.$$eval("#samples img", (imgs) =>
          (imgs as HTMLImageElement[]).map((img) => {
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const context = canvas.getContext("2d")!;
            context.drawImage(img, 0, 0);
            return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
          }),
        );
        for (const [i, image] of generation.images.entries()) {
          const response = await fetch(`${server.url}${image.url}`, { headers: { authorization: `Bearer ${key}` } });
          const rgba = await sharp(Buffer.from(await response.arrayBuffer())).ensureAlpha().raw().toBuffer();
          expect(Buffer.from(onPage[i]!).equals(rgba)).toBe(true);
        }
        const usage = await api<{ generations: number }>("/v1/usage");
        await page.waitForFunction((n) => document.querySelector("#usage [data-fact=usage-generations]")?.textContent === String(n), usage.generations);
        expect(usage.generations).toBeGreaterThanOrEqual(1);

        if (process.env.DVAR_DASHBOARD_SAMPLES_SCREENSHOT) await page.screenshot({ path: resolve(process.env.DVAR_DASHBOARD_SAMPLES_SCREENSHOT), fullPage: true });

        // A prompt without the token is refused with the API's reason.
        await page.fill("#sample-prompt", "a photo of an arrow");
        await page.click("#sample-start");
        await page.waitForFunction(() => (document.getElementById("sample-error")?.textContent ?? "") !== "");
        expect(await page.textContent("#sample-error")).toContain("invalid_input: prompt must contain the inversion's placeholder token <arrow>");
        expect(await page.$$eval("#samples img", (imgs) => imgs.length)).toBe(2);
        expect(pageErrors).toEqual([]);
      } finally {
        await page.close();
      }
    }, 180_000);

    it("takes a key from the URL fragment (the link dvar serve --dev-key prints) and clears it from the address bar", async () => {
      const page = await browser.context.newPage();
      try {
        await page.goto(`${server.url}/dashboard#key=${encodeURIComponent(key)}`);
        await page.waitForFunction(() => document.getElementById("key-state")?.textContent?.includes("accepted"));
        expect(await page.textContent("#key-state")).toContain(key.slice(0, 6));
        expect(new URL(page.url()).hash).toBe("");
      } finally {
        await page.close();
      }
    }, 60_000);

    it("offers a download for each embedding format the job has, and each one fetches the API's bytes", async () => {
      // A synthetic job writes no embedding; this writer stores its final parameters under the
      // output names the API serves (the two safetensors and A1111's .pt, as the real writer
      // encodes it), so the page's download path runs in a second. The real textual-inversion
      // writer is covered by test/handlers/api/textual-inversion.test.ts.
      const writer: OutputWriter = async ({ store: s, job, state, attempt }) => {
        const keys: Record<string, string> = {};
        for (const [name, tensor] of [["embedding.diffusers", "<concept>"], ["embedding.a1111", "emb_params"]] as const) {
          keys[name] = `${outputsPrefix(job.id, attempt)}${name}.safetensors`;
          await s.put(keys[name], encodeSafetensors({ [tensor]: { dtype: "F32", shape: [state.params.length], data: state.params } }), { ifNoneMatch: "*" });
        }
        keys["embedding.a1111-pt"] = `${outputsPrefix(job.id, attempt)}embedding.a1111-pt.pt`;
        const pt = encodeA1111PtEmbedding({ token: "embedding", numVectors: 1, hiddenSize: state.params.length, vectors: state.params, step: state.step });
        await s.put(keys["embedding.a1111-pt"], pt, { ifNoneMatch: "*" });
        return keys;
      };
      const h = await createHarness({ outputs: writer });
      const http = await new Promise<ServerType>((ready) => {
        const started = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready(started));
      });
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const page = await browser.context.newPage();
      try {
        await page.goto(`${url}/dashboard`);
        await page.fill("#api-key", h.keyA);
        await page.click("#key-save");
        await page.selectOption("#stopping", "fixed");
        await page.fill("#max-steps", "60");
        await page.click("#start");
        await page.waitForFunction(() => document.getElementById("job-status")?.textContent === "succeeded");
        await page.waitForSelector("#download-a1111-pt");
        const id = (await page.textContent("#job-id"))!;
        expect(await page.textContent("#chart-ratio")).toContain("not a DVAR job");
        // The buttons are the job's embedding_formats, in its order.
        const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as { embedding_formats: string[] };
        expect(job.embedding_formats).toEqual(["diffusers", "a1111", "a1111-pt"]);
        expect(await page.$$eval("#downloads button", (buttons) => buttons.map((b) => (b as HTMLButtonElement).dataset.format))).toEqual(job.embedding_formats);
        for (const [format, name] of [["diffusers", "learned_embeds.safetensors"], ["a1111", "embedding.safetensors"], ["a1111-pt", "embedding.pt"]] as const) {
          const [download] = await Promise.all([page.waitForEvent("download"), page.click(`#download-${format}`)]);
          expect(download.suggestedFilename()).toBe(name);
          const expected = new Uint8Array(await (await h.call(`/v1/inversions/${id}/embedding?format=${format}`)).arrayBuffer());
          const stream = await download.createReadStream();
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          expect(new Uint8Array(Buffer.concat(chunks))).toEqual(expected);
          if (format === "a1111-pt") {
            // A torch.save archive is a zip: local file header magic PK\x03\x04.
            expect(Buffer.from(expected.subarray(0, 4))).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
            const response = await h.call(`/v1/inversions/${id}/embedding?format=a1111-pt`);
            expect(response.headers.get("content-disposition")).toBe('attachment; filename="embedding.pt"');
            expect(decodeEmbedding(expected, { a1111Name: "embedding" }).embedding).toMatchObject({ token: "embedding", numVectors: 1, step: 60 });
            continue;
          }
          const tensors = decodeSafetensors(expected).tensors;
          expect(Object.keys(tensors)).toEqual([format === "diffusers" ? "<concept>" : "emb_params"]);
        }
      } finally {
        await page.close();
        await new Promise<void>((done) => http.close(() => done()));
      }
    });
  });
} else {
  describe("the dashboard in headless Chromium", () => {
    it("is not exercised here: Chromium is not installed and CI is not set (CI requires it)", () => {
      expect(chromiumRequired).toBe(false);
      expect(chromiumInstalled()).toBe(false);
    });
  });
}
