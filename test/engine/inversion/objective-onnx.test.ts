/**
 * The textual-inversion objective on a complete tiny random-weight pipeline
 * (test/fixtures/tiny-sd-a): its losses against an independent computation with the
 * pipeline's own, unmodified ONNX models, and slicing with checkpoint round trips.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint } from "../../../src/core/checkpoint/index.js";
import { createInitialState, type InversionConfigInput, type InversionState, runSlice } from "../../../src/core/inversion/index.js";
import { captionsFor } from "../../../src/engine/captions.js";
import { loadTrainingImages } from "../../../src/engine/images/index.js";
import { describeInversion, effectiveLearningRate, type InversionDescription, openInversion, type OpenInversion, parseDescription } from "../../../src/engine/inversion/job.js";
import type { BatchPlan } from "../../../src/engine/inversion/batch-plan.js";
import { loadClipTokenizer } from "../../../src/engine/tokenizer/index.js";
import { ModelSession } from "../../../src/runtime/session.js";
import { writeTrainingImages } from "./fixture-images.js";

const MODEL = "test/fixtures/tiny-sd-a";
const SEED = 3;
let imagesDir: string;
let cacheDir: string;
let description: InversionDescription;
let job: OpenInversion;

beforeAll(async () => {
  imagesDir = await writeTrainingImages();
  cacheDir = await mkdtemp(join(tmpdir(), "dvar-cache-"));
  description = await describeInversion({ model: MODEL, images: imagesDir, token: "<tst>", init: { kind: "word", word: "cat" }, seed: SEED, batchSize: 2, evalBatchSize: 3 });
  job = await openInversion(description, SEED, { threads: 1, cacheDir });
});
afterAll(async () => {
  await job?.close();
  await rm(imagesDir, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
});

/** alphas_cumprod of the fixture's scaled_linear schedule, in float64 (diffusers computes it in float32). */
function alphasCumprod(): Float64Array {
  const n = 1000, a = Math.sqrt(0.00085), b = Math.sqrt(0.012);
  const out = new Float64Array(n);
  let p = 1;
  for (let i = 0; i < n; i++) {
    const beta = (a + ((b - a) * i) / (n - 1)) ** 2;
    p *= 1 - beta;
    out[i] = p;
  }
  return out;
}

/**
 * The loss of a batch plan at the initial vectors, computed without the compiler or the
 * engine's batch code: the initial vectors are the embedding of "cat", so the captions
 * with "cat" in place of the placeholder, run through the unmodified text encoder, give
 * the same conditioning; latents from a separate VAE encoder run; noise and target by
 * the formulas; UNet and MSE here.
 */
/** Export conventions of the two fixtures: a (int32 ids, int64 [B] timestep, epsilon), b (int64 ids, float scalar timestep, v_prediction). */
interface Convention {
  model: string;
  ids: (ids: Int32Array) => Int32Array | BigInt64Array;
  timestep: (t: number) => { data: BigInt64Array | Float32Array; dims: number[] };
  v: boolean;
}
const CONVENTIONS: Record<"a" | "b", Convention> = {
  a: { model: MODEL, ids: (ids: Int32Array) => ids, timestep: (t: number) => ({ data: BigInt64Array.of(BigInt(t)), dims: [1] }), v: false },
  b: { model: "test/fixtures/tiny-sd-b", ids: (ids: Int32Array) => BigInt64Array.from(ids, (i) => BigInt(i)), timestep: (t: number) => ({ data: Float32Array.of(t), dims: [] }), v: true },
};

async function referenceLoss(plan: BatchPlan, convention: Convention = CONVENTIONS.a): Promise<number> {
  const model = convention.model;
  const tokenizer = await loadClipTokenizer(`${model}/tokenizer`);
  const captions = captionsFor("object", ["cat"]);
  const images = await loadTrainingImages(imagesDir, { resolution: 64, withFlipped: true });
  const vae = await ModelSession.fromFile(`${model}/vae_encoder/model.onnx`, { threads: 1 });
  const te = await ModelSession.fromFile(`${model}/text_encoder/model.onnx`, { threads: 1 });
  const unet = await ModelSession.fromFile(`${model}/unet/model.onnx`, { threads: 1 });
  const acp = alphasCumprod();
  const B = plan.images.length, n = 4 * 8 * 8;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const image = images[plan.images[b]!]!;
    const pixels = plan.flips[b] ? image.flipped! : image.pixels;
    const params = (await vae.run({ sample: { data: pixels, dims: [1, 3, 64, 64] } })).latent_parameters!.data as Float32Array;
    const eps = plan.latentEps.subarray(b * n, (b + 1) * n);
    const noise = plan.noise.subarray(b * n, (b + 1) * n);
    const t = plan.timesteps[b]!;
    const noisy = new Float32Array(n);
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const latent = (params[i]! + Math.exp(0.5 * Math.min(20, Math.max(-30, params[n + i]!))) * eps[i]!) * 0.18215;
      noisy[i] = Math.sqrt(acp[t]!) * latent + Math.sqrt(1 - acp[t]!) * noise[i]!;
      // epsilon: the noise; v_prediction: v = sqrt(acp) eps - sqrt(1 - acp) x0 (Salimans & Ho 2022)
      target[i] = convention.v ? Math.sqrt(acp[t]!) * noise[i]! - Math.sqrt(1 - acp[t]!) * latent : noise[i]!;
    }
    const ids = tokenizer.encode(captions[plan.templates[b]!]!).ids;
    const hidden = (await te.run({ input_ids: { data: convention.ids(ids), dims: [1, 77] } })).last_hidden_state!;
    const pred = (await unet.run({
      sample: { data: noisy, dims: [1, 4, 8, 8] },
      timestep: convention.timestep(t),
      encoder_hidden_states: hidden,
    })).out_sample!.data as Float32Array;
    for (let i = 0; i < n; i++) sum += (pred[i]! - target[i]!) ** 2;
  }
  for (const s of [vae, te, unet]) await s.release();
  return sum / (B * n);
}

describe("textual-inversion objective on a tiny pipeline", () => {
  it("records the model and image hashes, the initializer and diffusers' scaled learning rate", () => {
    expect(description.images.map((i) => i.path.split("/").pop())).toEqual(["img0.png", "img1.png", "img2.png"]);
    expect(description.images.every((i) => /^[0-9a-f]{64}$/.test(i.sha256))).toBe(true);
    expect(description.initializer).toMatchObject({ kind: "word", word: "cat", token: "cat</w>" });
    expect(description.resolution).toBe(64);
    expect(effectiveLearningRate(description)).toBeCloseTo(0.01, 12); // 5e-3 x batch 2
    expect(job.objective.size).toBe(32);
  });

  it("encodes each image and its flip once (6 VAE runs for 3 images)", () => {
    expect(job.latents.encoderRuns).toBe(6);
    expect(job.latents.shape).toEqual([4, 8, 8]);
  });

  it("gives the training loss of a step's batch as the unmodified models compute it (rel. error <= 1e-4)", async () => {
    const step = 4; // both samples flipped, small timesteps: the latents weigh in
    const plan = job.objective.trainPlan(step);
    const { loss, grad } = await job.objective.trainLossAndGradient(step, job.initialParams);
    const expected = await referenceLoss(plan);
    expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-4);
    expect(grad.length).toBe(32);
    expect(grad.some((g) => g !== 0)).toBe(true);
  });

  it("gives L_det on the fixed evaluation batch the same way, identically on every call", async () => {
    const ldet = await job.objective.evalLoss(job.initialParams);
    expect(await job.objective.evalLoss(job.initialParams)).toBe(ldet);
    const expected = await referenceLoss(job.objective.evalPlan);
    expect(Math.abs(ldet - expected) / expected).toBeLessThan(1e-4);
  });

  it("does the same on the other export conventions (tiny-sd-b: int64 ids, scalar timestep, v-prediction target)", async () => {
    const d = await describeInversion({ model: CONVENTIONS.b.model, images: imagesDir, token: "<tst>", init: { kind: "word", word: "cat" }, seed: SEED, batchSize: 2, evalBatchSize: 2 });
    const b = await openInversion(d, SEED, { threads: 1, cacheDir });
    try {
      const step = 4;
      const { loss } = await b.objective.trainLossAndGradient(step, b.initialParams);
      const expected = await referenceLoss(b.objective.trainPlan(step), CONVENTIONS.b);
      expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-4);
      const ldet = await b.objective.evalLoss(b.initialParams);
      expect(Math.abs(ldet - (await referenceLoss(b.objective.evalPlan, CONVENTIONS.b))) / ldet).toBeLessThan(1e-4);
    } finally {
      await b.close();
    }
  });

  it("runs in 3 slices with checkpoint round trips (objective rebuilt from the checkpoint each time) exactly as in one", async () => {
    const config: InversionConfigInput = {
      seed: SEED,
      maxSteps: 6,
      learningRate: effectiveLearningRate(description),
      stop: { name: "dvar", window: 3, threshold: 1e-9, every: 1 },
      objective: description as unknown as InversionConfigInput["objective"],
    };
    const clock = () => 0;
    const whole = await runSlice(createInitialState(config, job.initialParams), { objective: job.objective, budget: {}, clock });
    expect(whole.outcome).toEqual({ kind: "max_steps", step: 6 });

    let bytes = encodeCheckpoint(createInitialState(config, job.initialParams));
    for (let slice = 0; slice < 3; slice++) {
      const state: InversionState = decodeCheckpoint(bytes);
      const reopened = await openInversion(parseDescription(state.config.objective), state.config.seed, { threads: 1, cacheDir });
      try {
        bytes = encodeCheckpoint((await runSlice(state, { objective: reopened.objective, budget: { maxSteps: 2 }, clock })).state);
      } finally {
        await reopened.close();
      }
    }
    const sliced = decodeCheckpoint(bytes);
    expect(sliced.step).toBe(6);
    expect(Buffer.from(sliced.params.buffer).equals(Buffer.from(whole.state.params.buffer))).toBe(true);
    expect(sliced.history.trainLoss).toEqual(whole.state.history.trainLoss);
    expect(sliced.history.ldet).toEqual(whole.state.history.ldet);
    expect(sliced.history.criterion.slice(2)).toEqual(whole.state.history.criterion.slice(2));
    expect(sliced.optimizer.state).toEqual(whole.state.optimizer.state);
    expect(sliced.params).not.toEqual(job.initialParams);
  });
});
