/**
 * The bundled model and concept as the benchmarks use them: the same job `npm start`
 * trains (models/tiny-sd, examples/concepts/arrow, its suggested initializer word, DVAR),
 * opened through the engine's own describeInversion/openInversion, with compiled graphs
 * cached in a folder the bench owns. Also names what was measured (model fingerprint and
 * the git commit that last changed the model folder, when git can tell).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { DEMO_DEFAULTS, suggestedInitializer } from "../cli/demo.js";
import { inversionConfig } from "../cli/invert/setup.js";
import { createInitialState, type InversionState } from "../core/inversion/index.js";
import { describeInversion, openInversion, type InversionDescription, type OpenInversion } from "../engine/inversion/job.js";
import type { FlagSpec, FlagValues } from "./flags.js";

export const modelFlags: FlagSpec[] = [
  { kind: "string", name: "model", default: DEMO_DEFAULTS.model, help: "model folder (Optimum ONNX layout)" },
  { kind: "string", name: "concept", default: DEMO_DEFAULTS.concept, help: "folder of training images" },
];

export interface ModelIdentity {
  path: string;
  /** The engine's model fingerprint (SHA-256 over the model files), as checkpoints record it. */
  fingerprint: string;
  /** Last commit touching the model folder, or null outside a git checkout. */
  commit: string | null;
}

export interface BundledJob {
  description: InversionDescription;
  state: InversionState;
  identity: ModelIdentity;
  /** Compiled-graph cache of this bench run (removed by close). */
  cacheDir: string;
  /** Opens the job's objective (one per eval batch size, sharing compiled graphs). */
  open(evalBatchSize?: number): Promise<OpenInversion>;
  close(): Promise<void>;
}

function lastCommit(path: string): string | null {
  const git = spawnSync("git", ["log", "-1", "--format=%H", "--", path], { encoding: "utf8" });
  return git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim()) ? git.stdout.trim() : null;
}

export async function openBundledJob(values: FlagValues, options: { seed?: number; maxSteps?: number; evalBatchSize?: number } = {}): Promise<BundledJob> {
  const model = String(values.model), concept = String(values.concept), threads = Number(values.threads);
  const seed = options.seed ?? 0;
  const word = suggestedInitializer(concept);
  const description = await describeInversion(
    { model, images: concept, token: `<${basename(concept)}>`, init: word ? { kind: "word", word } : { kind: "random" }, seed, evalBatchSize: options.evalBatchSize ?? 4 },
    { threads },
  );
  const cacheDir = mkdtempSync(join(tmpdir(), "dvar-bench-graphs-"));
  const opened: OpenInversion[] = [];
  const open = async (evalBatchSize = description.evalBatchSize) => {
    const job = await openInversion({ ...description, evalBatchSize }, seed, { threads, cacheDir });
    opened.push(job);
    return job;
  };
  const first = await open();
  const config = inversionConfig(description, seed, options.maxSteps ?? 6100, "dvar");
  return {
    description,
    state: createInitialState(config, first.initialParams),
    cacheDir,
    identity: { path: description.model.path, fingerprint: description.model.fingerprint, commit: lastCommit(description.model.path) },
    open: async (b) => (b === undefined || b === description.evalBatchSize ? first : open(b)),
    async close() {
      for (const job of opened) await job.close();
      rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}
