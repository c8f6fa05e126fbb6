/**
 * `dvar demo`: the main job on the bundled defaults: learn a bundled concept on the
 * bundled model (dvar invert, DVAR stopping), then draw it and its initializer word
 * (dvar generate). Every step is an ordinary dvar command; this only picks the inputs.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { runGenerate } from "./generate.js";
import { runInvert } from "./invert/index.js";
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";

export const DEMO_DEFAULTS = { model: "models/tiny-sd", concept: "examples/concepts/arrow", out: "runs/demo", stop: "dvar-tiny-sd" };

const HELP = `Usage: dvar demo [--model DIR] [--concept DIR] [--out DIR] [--stop RULE] [--max-steps N] [--json]

Learns the concept in --concept (default ${DEMO_DEFAULTS.concept}) on --model (default
${DEMO_DEFAULTS.model}) with DVAR stopping (--stop, default ${DEMO_DEFAULTS.stop}: N and alpha
calibrated for the bundled model), then draws 4 images of "a photo of a <concept>"
and 4 of the concept's initializer word (the "Suggested initializer word" of its
README.md, else a random token). --stop and --max-steps are passed to dvar invert. Writes DIR/ (default ${DEMO_DEFAULTS.out}): the inversion's
files (see dvar invert --help), samples/ and initializer-samples/.`;

export function suggestedInitializer(conceptDir: string): string | undefined {
  const readme = join(conceptDir, "README.md");
  if (!existsSync(readme)) return undefined;
  return /Suggested initializer word:\s*`([^`\s]+)`/.exec(readFileSync(readme, "utf8"))?.[1];
}

export async function runDemo(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { model: { type: "string" }, concept: { type: "string" }, out: { type: "string" }, stop: { type: "string" }, "max-steps": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const model = values.model ?? DEMO_DEFAULTS.model;
  const concept = values.concept ?? DEMO_DEFAULTS.concept;
  const out = values.out ?? DEMO_DEFAULTS.out;
  if (!existsSync(model)) throw new CliUsageError(`the model folder ${model} is not in this checkout (the bundled model lives in ${DEMO_DEFAULTS.model})`);
  if (!existsSync(concept)) throw new CliUsageError(`the concept folder ${concept} does not exist`);
  const token = `<${basename(concept)}>`;
  const init = suggestedInitializer(concept);
  const json = values.json ? ["--json"] : [];
  const code = await runInvert([
    "--model", model, "--images", concept, "--token", token, "--init", init ?? "random", "--out", out,
    ...(values["max-steps"] ? ["--max-steps", values["max-steps"]] : []), "--stop", values.stop ?? DEMO_DEFAULTS.stop, ...json,
  ]);
  if (code !== 0) return code;
  const draw = (prompt: string, dir: string, embedding: string[]) => runGenerate(["--model", model, "--prompt", prompt, "--n", "4", "--seed", "0", "--out", join(out, dir), ...embedding, ...json]);
  const drawn = await draw(`a photo of a ${token}`, "samples", ["--embedding", join(out, "learned_embeds.safetensors")]);
  if (drawn !== 0 || !init) return drawn;
  return draw(`a photo of a ${init}`, "initializer-samples", []);
}

export const demoCommand: Subcommand = {
  name: "demo",
  summary: "the main job on the bundled model and a bundled concept: invert, then draw",
  run: (argv) => runDemo(argv),
};
