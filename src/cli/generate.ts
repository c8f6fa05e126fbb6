/** `dvar generate`: txt2img with a learned embedding (diffusers or A1111 file), PNG output. */
import { SAMPLER_KINDS, type SamplerKind } from "../core/sampling/index.js";
import { readEmbeddingFile } from "../engine/embeddings/index.js";
import { generateImages } from "../engine/generate/pipeline.js";
import { writePngs } from "../engine/generate/png.js";
import { openModelFolder } from "../engine/model/folder.js";
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";

export const GENERATE_HELP = `Usage: dvar generate --model DIR --prompt "..." [--embedding FILE] [options]

Draws images from a prompt with a Stable Diffusion pipeline in the Optimum ONNX layout,
with a learned Textual Inversion embedding: its token in the prompt selects the learned
vectors (a k-vector token expands to "tok tok_1 ... tok_{k-1}", as diffusers does).

  --model DIR              pipeline folder (text_encoder, unet, vae_decoder, tokenizer, scheduler)
  --prompt TEXT            the prompt, e.g. "a photo of <my-cat> on a beach"
  --embedding FILE         learned_embeds.safetensors (diffusers: {token: [k, H]}), an
                           A1111/kohya .safetensors ({"emb_params"}) or A1111 .pt (torch.save,
                           read without running Python code); an A1111 file's word is its name
  --token NAME             call the embedding's vectors NAME in the prompt instead
  --negative-prompt TEXT   what to steer away from (default: empty, as diffusers)
  --n N                    images (default 4); image i uses seed S + i
  --steps N                sampler steps (default 25)
  --guidance G             classifier-free guidance scale >= 1 (default 7.5; 1 = off)
  --sampler NAME           ${SAMPLER_KINDS.join(", ")} (euler-a = euler-ancestral);
                           default: what scheduler/scheduler_config.json names
  --seed S                 seed (default 0)
  --out DIR                where the PNGs go (default runs/generate): image-<i>-seed-<S+i>.png
  --threads N              onnxruntime intra-op threads (default 0: all cores)
  --json                   print the result as one JSON line
  -h, --help               show this help`;

function integer(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) throw new CliUsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  return Number(text);
}

function samplerKind(text: string | undefined): SamplerKind | undefined {
  if (text === undefined) return undefined;
  const kind = text === "euler-a" ? "euler-ancestral" : text;
  if (!(SAMPLER_KINDS as readonly string[]).includes(kind)) throw new CliUsageError(`--sampler must be one of ${SAMPLER_KINDS.join(", ")} or euler-a, got '${text}'`);
  return kind as SamplerKind;
}

export async function runGenerate(argv: string[], stdout: { write(text: string): unknown } = process.stdout): Promise<number> {
  const values = parseFlags(argv, {
        model: { type: "string" }, prompt: { type: "string" }, embedding: { type: "string" }, token: { type: "string" },
        "negative-prompt": { type: "string" }, n: { type: "string" }, steps: { type: "string" }, guidance: { type: "string" },
        sampler: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, threads: { type: "string" },
        json: { type: "boolean" }, help: { type: "boolean", short: "h" },
      });
  if (values.help) {
    stdout.write(GENERATE_HELP + "\n");
    return 0;
  }
  for (const flag of ["model", "prompt"] as const) if (values[flag] === undefined) throw new CliUsageError(`--${flag} is required (see dvar generate --help)`);
  if (values.token !== undefined && values.embedding === undefined) throw new CliUsageError("--token renames an embedding: give --embedding too");
  const guidance = values.guidance === undefined ? 7.5 : Number(values.guidance);
  if (!Number.isFinite(guidance) || guidance < 1) throw new CliUsageError(`--guidance must be a number >= 1, got '${values.guidance}'`);
  const n = integer("--n", values.n, 1) ?? 4;
  const steps = integer("--steps", values.steps, 1) ?? 25;
  const seed = integer("--seed", values.seed, 0) ?? 0;
  const threads = integer("--threads", values.threads, 0) ?? 0;
  const sampler = samplerKind(values.sampler);

  const folder = openModelFolder(values.model!);
  let embedding;
  if (values.embedding !== undefined) {
    embedding = (await readEmbeddingFile(values.embedding)).embedding;
    if (values.token !== undefined) embedding = { ...embedding, token: values.token };
  }
  const result = await generateImages(folder, {
    prompt: values.prompt!,
    ...(values["negative-prompt"] !== undefined ? { negativePrompt: values["negative-prompt"] } : {}),
    n, steps, guidance, seed, threads,
    ...(sampler ? { sampler } : {}),
    ...(embedding ? { embedding } : {}),
  });
  const files = await writePngs(values.out ?? "runs/generate", result.images);
  if (values.json) {
    stdout.write(JSON.stringify({ event: "done", sampler: result.sampler, seeds: result.images.map((i) => i.seed), files, warnings: result.warnings }) + "\n");
  } else {
    for (const warning of result.warnings) stdout.write(`warning: ${warning}\n`);
    stdout.write(`${files.length} image${files.length === 1 ? "" : "s"} (${result.sampler}, ${steps} steps, guidance ${guidance}):\n${files.map((f) => `  ${f}`).join("\n")}\n`);
  }
  return 0;
}

export const generateCommand: Subcommand = {
  name: "generate",
  summary: "draw images from a prompt, with a learned embedding",
  run: (argv) => runGenerate(argv),
};
