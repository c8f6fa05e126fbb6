// The bundled tiny-sd model (models/tiny-sd, built by tools/tiny-sd): every graph loads in
// onnxruntime-node, has the documented IO, gives finite outputs of the right shape, and matches
// the PyTorch outputs recorded at export time (fixtures/tiny-sd-reference.json).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";

const modelDir = fileURLToPath(new URL("../../models/tiny-sd/", import.meta.url));
const reference = JSON.parse(
  readFileSync(new URL("./fixtures/tiny-sd-reference.json", import.meta.url), "utf8"),
) as Reference;

interface Summary { shape: number[]; first: number[]; mean: number; mean_abs: number }
interface PatternSpec { shape: number[]; scale: number; phase: number }
interface Reference {
  prompt: string;
  input_ids: number[][];
  text_encoder: { last_hidden_state: Summary; pooler_output: Summary };
  unet: { sample: PatternSpec; timestep: number[]; out_sample: Summary };
  vae_encoder: { sample: PatternSpec; latent_parameters: Summary };
  vae_decoder: { latent_sample: PatternSpec; sample: Summary };
  image_encoder: { image_embeds: Summary };
}

// Relative agreement with PyTorch: ORT and torch differ only by float32 reassociation.
const TOLERANCE = 1e-3;

function pattern(spec: PatternSpec): ort.Tensor {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = spec.scale * Math.sin(0.37 * i + spec.phase);
  return new ort.Tensor("float32", data, spec.shape);
}

async function open(name: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(`${modelDir}${name}/model.onnx`, { intraOpNumThreads: 1 });
}

function expectMatches(t: ort.Tensor, want: Summary): void {
  const flat = [want.shape.reduce((a, b) => a * b, 1)];
  expect([t.dims.reduce((a, b) => a * b, 1)]).toEqual(flat);
  const data = t.data as Float32Array;
  expect(data.every(Number.isFinite)).toBe(true);
  const scale = Math.max(want.mean_abs, 1e-6);
  want.first.forEach((v, i) => expect(Math.abs((data[i] ?? NaN) - v)).toBeLessThan(TOLERANCE * scale + 1e-5));
  let sum = 0;
  let sumAbs = 0;
  for (const v of data) { sum += v; sumAbs += Math.abs(v); }
  expect(Math.abs(sum / data.length - want.mean)).toBeLessThan(TOLERANCE * scale);
  expect(Math.abs(sumAbs / data.length - want.mean_abs)).toBeLessThan(TOLERANCE * scale);
}

function ids(): ort.Tensor {
  const rows = reference.input_ids;
  const data = BigInt64Array.from(rows.flat().map((v) => BigInt(v)));
  return new ort.Tensor("int64", data, [rows.length, rows[0]?.length ?? 0]);
}

describe("models/tiny-sd in onnxruntime-node", () => {
  it("text_encoder: input_ids int64 [B,77] -> last_hidden_state [B,77,64], pooler_output [B,64]", async () => {
    const s = await open("text_encoder");
    expect(s.inputNames).toEqual(["input_ids"]);
    expect(s.outputNames).toEqual(["last_hidden_state", "pooler_output"]);
    const out = await s.run({ input_ids: ids() });
    expect(out.last_hidden_state!.dims).toEqual([2, 77, 64]);
    expect(out.pooler_output!.dims).toEqual([2, 64]);
    expectMatches(out.last_hidden_state!, reference.text_encoder.last_hidden_state);
    expectMatches(out.pooler_output!, reference.text_encoder.pooler_output);
  });

  it("unet: sample [B,4,8,8], timestep int64 [B], encoder_hidden_states -> out_sample", async () => {
    const text = await open("text_encoder");
    const context = (await text.run({ input_ids: ids() })).last_hidden_state!;
    const s = await open("unet");
    expect(s.inputNames).toEqual(["sample", "timestep", "encoder_hidden_states"]);
    expect(s.outputNames).toEqual(["out_sample"]);
    const timestep = new ort.Tensor("int64", BigInt64Array.from(reference.unet.timestep.map(BigInt)), [2]);
    const out = await s.run({ sample: pattern(reference.unet.sample), timestep, encoder_hidden_states: context });
    expect(out.out_sample!.dims).toEqual([2, 4, 8, 8]);
    expectMatches(out.out_sample!, reference.unet.out_sample);
  });

  it("vae_encoder: sample [B,3,32,32] -> latent_parameters [B,8,8,8] (mean, logvar)", async () => {
    const s = await open("vae_encoder");
    expect(s.outputNames).toEqual(["latent_parameters"]);
    const out = await s.run({ sample: pattern(reference.vae_encoder.sample) });
    expect(out.latent_parameters!.dims).toEqual([2, 8, 8, 8]);
    expectMatches(out.latent_parameters!, reference.vae_encoder.latent_parameters);
  });

  it("vae_decoder: latent_sample [B,4,8,8] -> sample [B,3,32,32]", async () => {
    const s = await open("vae_decoder");
    expect(s.inputNames).toEqual(["latent_sample"]);
    const out = await s.run({ latent_sample: pattern(reference.vae_decoder.latent_sample) });
    expect(out.sample!.dims).toEqual([2, 3, 32, 32]);
    expectMatches(out.sample!, reference.vae_decoder.sample);
  });

  it("image_encoder: pixel_values [B,3,32,32] -> image_embeds [B,128]", async () => {
    const s = await open("image_encoder");
    expect(s.inputNames).toEqual(["pixel_values"]);
    const out = await s.run({ pixel_values: pattern(reference.vae_encoder.sample) });
    expect(out.image_embeds!.dims).toEqual([2, 128]);
    expectMatches(out.image_embeds!, reference.image_encoder.image_embeds);
  });
});

describe("models/tiny-sd configuration files", () => {
  const read = (p: string): unknown => JSON.parse(readFileSync(`${modelDir}${p}`, "utf8"));

  it("has the Optimum layout with a scaled_linear epsilon scheduler and a VAE scaling factor", () => {
    const index = read("model_index.json") as Record<string, unknown>;
    for (const k of ["text_encoder", "unet", "vae_encoder", "vae_decoder", "tokenizer", "scheduler"]) {
      expect(index).toHaveProperty(k);
    }
    const sched = read("scheduler/scheduler_config.json") as Record<string, unknown>;
    expect(sched).toMatchObject({ beta_schedule: "scaled_linear", prediction_type: "epsilon", num_train_timesteps: 1000 });
    const vae = read("vae_decoder/config.json") as { scaling_factor: number };
    expect(vae.scaling_factor).toBeGreaterThan(0);
    expect(read("vae_encoder/config.json")).toEqual(vae);
  });

  it("tokenizer files agree and encode the reference prompt word by word (CLIP BPE, </w>)", () => {
    const vocab = read("tokenizer/vocab.json") as Record<string, number>;
    const tj = read("tokenizer/tokenizer.json") as { model: { vocab: Record<string, number>; merges: string[] } };
    const merges = readFileSync(`${modelDir}tokenizer/merges.txt`, "utf8").split("\n").slice(1).filter(Boolean);
    expect(tj.model.vocab).toEqual(vocab);
    expect(tj.model.merges).toEqual(merges);
    const bos = vocab["<|startoftext|>"]!;
    const eos = vocab["<|endoftext|>"]!;
    expect(eos).toBe(Object.keys(vocab).length - 1); // the highest id, as in CLIP
    const words = reference.prompt.split(" ").map((w) => vocab[`${w}</w>`]);
    expect(words.every((v) => v !== undefined)).toBe(true);
    const expected = [bos, ...(words as number[]), eos];
    while (expected.length < 77) expected.push(eos);
    expect(reference.input_ids[0]).toEqual(expected);
  });
});
