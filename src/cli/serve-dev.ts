/**
 * Local-development conveniences of `dvar serve` (what `npm start` turns on): a development API
 * key that survives restarts, and a first demo job so the dashboard has something to show.
 * The store still keeps only the key's hash; the plaintext lives in a local 0600 file, like any
 * CLI credentials file, and is never written when the key is not for local use.
 */
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CRITERION_PRESETS } from "../core/stopping/index.js";
import type { Store } from "../ports/store/index.js";
import { ApiKeyRegistry } from "../services/auth/index.js";
import { suggestedInitializer } from "./demo.js";

export const DEV_TENANT = "dev";
export const DEFAULT_DEV_KEY_FILE = ".dvar/dev-api-key";

/** The key in `file` when the store still accepts it, else a new key for the dev tenant saved there. */
export async function ensureDevKey(store: Store, file: string): Promise<{ key: string; created: boolean }> {
  const registry = new ApiKeyRegistry(store);
  const saved = await readFile(file, "utf8").then((text) => text.trim(), () => undefined);
  if (saved !== undefined && (await registry.authenticate(saved))?.tenantId === DEV_TENANT) return { key: saved, created: false };
  const { key } = await registry.issue(DEV_TENANT, "development key (dvar serve --dev-key)");
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { key, created: true };
}

export interface DemoJobOptions {
  readonly url: string;
  readonly key: string;
  /** A concept folder: its PNGs become the job's images, its README names the initializer. */
  readonly concept: string;
  readonly model?: string;
  readonly fetch?: typeof fetch;
}

/**
 * Submits the concept as a textual_inversion job through the public API, unless the key's
 * tenant already has a job (a restart must not pile up demo jobs). Returns the job id, or
 * undefined when it skipped.
 */
export async function submitDemoJob(options: DemoJobOptions): Promise<string | undefined> {
  const call = options.fetch ?? fetch;
  const auth = { authorization: `Bearer ${options.key}` };
  const expectOk = async (response: Response, what: string) => {
    if (!response.ok) throw new Error(`demo job: ${what} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const listed = await expectOk(await call(`${options.url}/v1/inversions?limit=1`, { headers: auth }), "listing jobs");
  if (Array.isArray(listed.data) && listed.data.length > 0) return undefined;

  const files = (await readdir(options.concept)).filter((f) => f.toLowerCase().endsWith(".png")).sort();
  const images: string[] = [];
  for (const file of files) {
    const body = await readFile(join(options.concept, file));
    const upload = await expectOk(await call(`${options.url}/v1/uploads`, { method: "POST", headers: { ...auth, "content-type": "image/png" }, body }), `uploading ${file}`);
    images.push(String(upload.id));
  }
  const initializer = suggestedInitializer(options.concept);
  const job = await expectOk(
    await call(`${options.url}/v1/inversions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        objective: "textual_inversion",
        model: options.model ?? "tiny-sd",
        placeholder_token: `<${basename(options.concept)}>`,
        ...(initializer === undefined ? {} : { initializer_token: initializer }),
        images,
        // Calibrated for the bundled model (docs/EVALUATION.md): the paper's values fire late on it.
        stopping: CRITERION_PRESETS["dvar-tiny-sd"],
      }),
    }),
    "creating the job",
  );
  return String(job.id);
}

/**
 * Prints the demo job's progress (a line when its status or step changes, polled every
 * `pollMs`) until it ends or `signal` aborts, then where to get the embedding.
 */
export async function followDemoJob(options: {
  readonly url: string;
  readonly key: string;
  readonly id: string;
  /** Where the key is saved, for the printed download command (default .dvar/dev-api-key). */
  readonly keyFile?: string;
  readonly write: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
  readonly fetch?: typeof fetch;
}): Promise<string | undefined> {
  const call = options.fetch ?? fetch;
  const headers = { authorization: `Bearer ${options.key}` };
  let last = "";
  while (!options.signal?.aborted) {
    const response = await call(`${options.url}/v1/inversions/${options.id}`, { headers }).catch(() => undefined);
    if (response?.ok) {
      const job = (await response.json()) as { status: string; step: number; max_steps: number; dvar_ratio: number | null; outcome: { reason?: string } | null };
      const line = `demo job ${options.id}: ${job.status}, step ${job.step}/${job.max_steps}` + (job.dvar_ratio === null ? "" : `, DVAR ratio ${job.dvar_ratio.toFixed(3)}`);
      if (line !== last) options.write(line);
      last = line;
      if (["succeeded", "failed", "canceled"].includes(job.status)) {
        if (job.status === "succeeded") {
          options.write(`embedding: curl -H "Authorization: Bearer $(cat ${options.keyFile ?? DEFAULT_DEV_KEY_FILE})" "${options.url}/v1/inversions/${options.id}/embedding?format=diffusers" -o learned_embeds.safetensors`);
        }
        return job.status;
      }
    }
    await new Promise<void>((resume) => {
      const wake = () => (clearTimeout(timer), resume());
      const timer = setTimeout(() => (options.signal?.removeEventListener("abort", wake), resume()), options.pollMs ?? 2000);
      options.signal?.addEventListener("abort", wake, { once: true });
    });
  }
  return undefined;
}
