/**
 * The step graph's gradient agrees with central differences of the eval graph's loss along
 * a unit direction (mostly along the gradient, plus a random part), for a batch of one (a
 * shape the PyTorch references do not cover). float32: h = 0.2 (errors seen: 2e-4, 3e-5);
 * relative tolerance 2e-3.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";
import { normals } from "../../../src/core/rng/stream.js";
import { compileTextualInversion } from "../../../src/graph/textual-inversion/compile.js";
import { ModelSession, type HostTensor } from "../../../src/runtime/session.js";

describe("step gradient vs eval-graph differences (B = 1)", () => {
  for (const model of ["tiny-sd-a", "tiny-sd-b"]) {
    it(model, async () => {
      const root = `test/fixtures/${model}`;
      const ref = decodeSafetensors(fs.readFileSync(`${root}/references/k2-b3.safetensors`)).tensors;
      const first = (name: string): HostTensor => {
        const t = ref[name]!;
        const per = t.data.length / t.shape[0]!;
        return { data: t.data.slice(per, 2 * per) as HostTensor["data"], dims: [1, ...t.shape.slice(1)] }; // sample 1 holds the placeholder twice
      };
      const concept = ref.concept!;
      const feeds: Record<string, HostTensor> = {
        input_ids: first("input_ids"), noisy_latents: first("noisy_latents"), timesteps: first("timesteps"), target: first("target"),
        concept: { data: concept.data as Float32Array, dims: concept.shape },
      };
      const graphs = compileTextualInversion(root, { batch: 1, tokens: 77, concepts: 2, latent: [4, 8, 8] }, null);
      const options = { threads: 1, externalDataDir: graphs.root };
      const step = await ModelSession.fromBytes(graphs.step, options);
      const evaluate = await ModelSession.fromBytes(graphs.eval, options);
      const grad = (await step.run(feeds)).grad!.data as Float32Array;
      const noise = normals({ seed: 5, stream: 0, step: 0 }, grad.length);
      const gNorm = Math.hypot(...grad), nNorm = Math.hypot(...noise);
      const raw = Array.from(grad, (g, i) => g / gNorm + (0.5 * noise[i]!) / nNorm);
      const rNorm = Math.hypot(...raw);
      const direction = raw.map((v) => v / rNorm);
      const h = 0.2;
      const lossAt = async (sign: number) => {
        const c = Float32Array.from(concept.data as Float32Array, (v, i) => v + sign * h * direction[i]!);
        return Number((await evaluate.run({ ...feeds, concept: { data: c, dims: concept.shape } })).loss!.data[0]);
      };
      const numeric = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
      const analytic = grad.reduce((s, g, i) => s + g * direction[i]!, 0);
      await step.release();
      await evaluate.release();
      expect(Math.abs(analytic)).toBeGreaterThan(0.5 * gNorm);
      expect(Math.abs(numeric - analytic) / Math.abs(analytic)).toBeLessThan(2e-3);
    });
  }
});
