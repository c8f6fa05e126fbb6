import { describe, expect, it } from "vitest";
import { normalsF32, permutation, RngStream } from "../../../src/core/rng/stream.js";
import { evalBatchPlan, resampledEvalPlan, trainBatchPlan } from "../../../src/engine/inversion/batch-plan.js";

const DIMS = { batch: 4, images: 3, templates: 27, timesteps: 1000, latentSize: 16 };

describe("DVAR evaluation batch", () => {
  it("takes image i mod n, template i mod len, no flip, and the first B timesteps of one permutation (FACTS section 1)", () => {
    const plan = evalBatchPlan(11, { ...DIMS, batch: 5 });
    expect(plan.images).toEqual([0, 1, 2, 0, 1]);
    expect(plan.templates).toEqual([0, 1, 2, 3, 4]);
    expect(plan.flips).toEqual([false, false, false, false, false]);
    const perm = permutation({ seed: 11, stream: RngStream.evalBatch, step: 0 }, 1000);
    expect(plan.timesteps).toEqual(Array.from(perm.subarray(0, 5)));
    expect(new Set(plan.timesteps).size).toBe(5);
    // One latent sample and one noise tensor, from their own addresses, independent of each other.
    expect(plan.latentEps).toEqual(normalsF32({ seed: 11, stream: RngStream.evalBatch, step: 1 }, 5 * 16));
    expect(plan.noise).toEqual(normalsF32({ seed: 11, stream: RngStream.evalBatch, step: 2 }, 5 * 16));
    expect(plan.noise).not.toEqual(plan.latentEps);
  });

  it("wraps templates and images for larger batches, depends only on the seed, and refuses B > timesteps", () => {
    const plan = evalBatchPlan(3, { ...DIMS, batch: 30 });
    expect(plan.templates.slice(26)).toEqual([26, 0, 1, 2]);
    expect(evalBatchPlan(3, { ...DIMS, batch: 30 })).toEqual(plan);
    expect(evalBatchPlan(4, { ...DIMS, batch: 30 }).timesteps).not.toEqual(plan.timesteps);
    expect(() => evalBatchPlan(3, { ...DIMS, timesteps: 3 })).toThrow(/eval batch 4 exceeds the 3 training timesteps/);
  });
});

describe("training batches", () => {
  it("are a function of (seed, step) alone: the same in any order of calls", () => {
    const forward = [0, 1, 2, 3].map((s) => trainBatchPlan(5, s, DIMS, 0.5));
    const backward = [3, 2, 1, 0].map((s) => trainBatchPlan(5, s, DIMS, 0.5)).reverse();
    expect(backward).toEqual(forward);
    expect(forward[1]).not.toEqual(forward[2]);
    expect(trainBatchPlan(6, 1, DIMS, 0.5)).not.toEqual(forward[1]);
  });

  it("draw images, templates and timesteps uniformly over their ranges and flip with probability p", () => {
    const counts = { image: [0, 0, 0], flips: 0, lowT: 0, templates: new Set<number>() };
    const steps = 2000;
    for (let s = 0; s < steps; s++) {
      const p = trainBatchPlan(9, s, DIMS, 0.5);
      p.images.forEach((i) => counts.image[i]!++);
      counts.flips += p.flips.filter(Boolean).length;
      counts.lowT += p.timesteps.filter((t) => t < 500).length;
      p.templates.forEach((t) => counts.templates.add(t));
      for (const t of p.timesteps) expect(t >= 0 && t < 1000 && Number.isInteger(t)).toBe(true);
    }
    const n = steps * 4;
    // Binomial standard deviations: about 0.0053 for 1/3, 0.0056 for 1/2 at n = 8000; 5 sigma bounds.
    for (const c of counts.image) expect(Math.abs(c / n - 1 / 3)).toBeLessThan(0.027);
    expect(Math.abs(counts.flips / n - 0.5)).toBeLessThan(0.028);
    expect(Math.abs(counts.lowT / n - 0.5)).toBeLessThan(0.028);
    expect(counts.templates.size).toBe(27);
    expect(trainBatchPlan(9, 0, DIMS, 0).flips.some(Boolean)).toBe(false);
    expect(trainBatchPlan(9, 0, DIMS, 1).flips.every(Boolean)).toBe(true);
  });
});

describe("semi-deterministic evaluation batches (paper, section 4.4)", () => {
  const fields = ["images", "templates", "flips", "timesteps", "latentEps", "noise"] as const;
  const changed = { timesteps: ["timesteps"], noise: ["noise"], latents: ["latentEps"], data: ["images", "templates"] } as const;
  it("redraw exactly one source per step and keep every other input of L_det's batch", () => {
    const fixed = evalBatchPlan(11, DIMS);
    for (const source of ["timesteps", "noise", "latents", "data"] as const) {
      const a = resampledEvalPlan(11, 7, DIMS, source);
      const b = resampledEvalPlan(11, 8, DIMS, source);
      for (const f of fields) {
        if ((changed[source] as readonly string[]).includes(f)) {
          expect(a[f], `${source}: ${f} at steps 7 and 8`).not.toEqual(b[f]);
        } else {
          expect(a[f], `${source}: ${f} kept`).toEqual(fixed[f]);
        }
      }
      expect(resampledEvalPlan(11, 7, DIMS, source)).toEqual(a); // a function of (seed, step)
    }
  });
  it("draw from their own streams: never the training batch of the same step, timesteps still all different", () => {
    const train = trainBatchPlan(11, 7, DIMS, 0.5);
    expect(resampledEvalPlan(11, 7, DIMS, "noise").noise).not.toEqual(train.noise);
    expect(resampledEvalPlan(11, 7, DIMS, "latents").latentEps).not.toEqual(train.latentEps);
    expect(resampledEvalPlan(11, 7, DIMS, "timesteps").timesteps).toEqual(Array.from(permutation({ seed: 11, stream: RngStream.resampledTimestep, step: 7 }, 1000).subarray(0, 4)));
    for (let step = 0; step < 50; step++) expect(new Set(resampledEvalPlan(11, step, DIMS, "timesteps").timesteps).size).toBe(4);
    const data = resampledEvalPlan(11, 7, DIMS, "data");
    expect(data.images.every((i) => i >= 0 && i < 3) && data.templates.every((t) => t >= 0 && t < 27)).toBe(true);
  });
});
