/**
 * What a trajectory study (`dvar evaluate`) runs with, and which concepts it runs on.
 * The settings that change a concept's results are hashed into its record, so a rerun
 * skips finished concepts only when they were made with the same settings.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { stringifyExact } from "../../core/io/exact-json.js";
import { sha256Hex } from "../../core/io/sha256.js";
import { CRITERION_PRESETS } from "../../core/stopping/index.js";
import type { InitChoice } from "../inversion/job.js";
import { modelFingerprint, openModelFolder } from "../model/folder.js";
import { PAPER_SCORE_SETTINGS, type ScoreSettings } from "./reconstruction.js";

export const DVAR_PRESETS = ["dvar", "dvar-paper"] as const;
export type DvarPreset = (typeof DVAR_PRESETS)[number];

export interface StudySettings {
  model: string;
  /** The model's fingerprint: records made with another model (retrained in place) are not reused. */
  modelFingerprint: string;
  /** Training steps of the one run per concept (the paper's baseline: 6100). */
  steps: number;
  seed: number;
  /** The score series' cadence, which is CLIP-s's (50). */
  scoreEvery: number;
  /** The baseline's checkpoint cadence (500). */
  baselineEvery: number;
  /** The study's score (cheaper than the paper's; see docs/REPRODUCTION.md). */
  score: ScoreSettings;
  /** A second sampling seed, at the baseline checkpoints: the score's noise between seeds. */
  noiseSeed: number;
  /** The paper's score, timed once per concept: what one evaluation costs CLIP-s and the baseline. */
  paperScore: ScoreSettings;
  /** CLIP-s: the patience rule (eps 0.05, patience 5, every 50). */
  clipS: typeof CRITERION_PRESETS.patience;
  /** The concept of the semi-deterministic ablation (null: none) and its steps. */
  ablation: { concept: string | null; steps: number };
  /** onnxruntime intra-op threads per process (0: all cores). */
  threads: number;
}

export const STUDY_DEFAULTS = {
  steps: 6100,
  seed: 0,
  scoreEvery: 50,
  baselineEvery: 500,
  score: { samples: 8, steps: 10, guidance: 7.5, seed: 0, property: "object" } satisfies ScoreSettings,
  noiseSeed: 1000,
  ablationSteps: 1000,
} as const;

export function defaultStudySettings(model: string, overrides: Partial<StudySettings> = {}): StudySettings {
  return {
    model,
    modelFingerprint: modelFingerprint(openModelFolder(model)),
    steps: STUDY_DEFAULTS.steps,
    seed: STUDY_DEFAULTS.seed,
    scoreEvery: STUDY_DEFAULTS.scoreEvery,
    baselineEvery: STUDY_DEFAULTS.baselineEvery,
    score: { ...STUDY_DEFAULTS.score },
    noiseSeed: STUDY_DEFAULTS.noiseSeed,
    paperScore: PAPER_SCORE_SETTINGS,
    clipS: CRITERION_PRESETS.patience,
    ablation: { concept: null, steps: STUDY_DEFAULTS.ablationSteps },
    threads: 0,
    ...overrides,
  };
}

/** Hash of what changes one concept's record (not threads or parallelism). */
export function conceptSettingsKey(s: StudySettings, concept: string): string {
  const { threads: _threads, ablation, ...rest } = s;
  return sha256Hex(stringifyExact({ ...rest, ablationSteps: ablation.concept === concept ? ablation.steps : 0 }));
}

export interface ConceptInput {
  name: string;
  dir: string;
}

/** Concept folders of one or more parent folders, sorted by name; names must be unique. */
export function findConcepts(parents: readonly string[], only?: readonly string[]): ConceptInput[] {
  const found: ConceptInput[] = [];
  for (const parent of parents) {
    if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new Error(`concept folder ${parent} does not exist`);
    for (const name of readdirSync(parent).sort()) {
      const dir = join(parent, name);
      if (statSync(dir).isDirectory()) found.push({ name, dir });
    }
  }
  const names = found.map((c) => c.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`two concept folders are named ${duplicate}`);
  if (only) {
    const missing = only.filter((n) => !names.includes(n));
    if (missing.length > 0) throw new Error(`no concept folder named ${missing.join(", ")} in ${parents.map((p) => basename(p)).join(", ")}`);
  }
  return (only ? found.filter((c) => only.includes(c.name)) : found).sort((a, b) => a.name.localeCompare(b.name));
}

/** A concept README's "Suggested initializer word: `WORD`", else a random token. */
export function initializerOf(dir: string): InitChoice {
  const readme = join(dir, "README.md");
  const match = existsSync(readme) ? /Suggested initializer word:\s*`([^`]+)`/.exec(readFileSync(readme, "utf8")) : null;
  return match ? { kind: "word", word: match[1]! } : { kind: "random" };
}
