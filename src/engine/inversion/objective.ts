/**
 * The textual-inversion Objective the slice runner optimises: the concept vectors [k, H]
 * (flattened) through the compiled text encoder + UNet graphs. A batch is built from its
 * plan (./batch-plan.ts): token ids of the chosen captions, latents sampled from the
 * cache, x_t = add_noise(latents, noise, t) and the target of the scheduler's prediction
 * type (noise for epsilon, v for v_prediction); the loss is their mean squared error.
 */
import { EVAL_RANDOMNESS, type Objective } from "../../core/inversion/index.js";
import { addNoise, type NoiseSchedule, trainingTarget } from "../../core/schedule/index.js";
import type { TiInputs } from "../../runtime/textual-inversion.js";
import { type BatchDims, type BatchPlan, evalBatchPlan, resampledEvalPlan, trainBatchPlan } from "./batch-plan.js";
import type { LatentCache } from "./latents.js";

/** What runs the compiled graphs (TextualInversionRunner; tests may wrap it). */
export interface TiGraphRunner {
  step(inputs: TiInputs): Promise<{ loss: number; grad: Float32Array }>;
  evaluate(inputs: TiInputs): Promise<{ loss: number; sampleLosses: Float32Array }>;
}

export interface TiObjectiveSettings {
  runner: TiGraphRunner;
  latents: LatentCache;
  schedule: NoiseSchedule;
  /** Token ids of each caption template with the placeholder substituted, each `tokens` long. */
  captionIds: readonly Int32Array[];
  numVectors: number;
  hiddenSize: number;
  seed: number;
  batchSize: number;
  evalBatchSize: number;
  flipProbability: number;
}

export interface TiObjective extends Objective {
  /** The DVAR evaluation batch, drawn once. */
  readonly evalPlan: BatchPlan;
  /** The batch of update `step` (for tests and reports). */
  trainPlan(step: number): BatchPlan;
}

export function createTiObjective(s: TiObjectiveSettings): TiObjective {
  const tokens = s.captionIds[0]?.length ?? 0;
  if (tokens === 0 || s.captionIds.some((ids) => ids.length !== tokens)) throw new RangeError("caption ids must be non-empty and of one length");
  const latentShape = s.latents.shape;
  const dims = (batch: number): BatchDims => ({
    batch,
    images: s.latents.images.length,
    templates: s.captionIds.length,
    timesteps: s.schedule.numTrainTimesteps,
    latentSize: s.latents.size,
  });
  const size = s.numVectors * s.hiddenSize;
  const withFlips = s.flipProbability > 0;

  function inputs(plan: BatchPlan, params: Float32Array): TiInputs {
    if (params.length !== size) throw new RangeError(`the objective takes ${size} parameters (${s.numVectors} x ${s.hiddenSize}), got ${params.length}`);
    const batch = plan.images.length;
    const n = s.latents.size;
    const ids = new Int32Array(batch * tokens);
    const latents = new Float32Array(batch * n);
    for (let b = 0; b < batch; b++) {
      ids.set(s.captionIds[plan.templates[b]!]!, b * tokens);
      latents.set(s.latents.sample(plan.images[b]!, withFlips && plan.flips[b]!, plan.latentEps.subarray(b * n, (b + 1) * n)), b * n);
    }
    const shape = [batch, ...latentShape];
    return {
      inputIds: { data: ids, dims: [batch, tokens] },
      concept: { data: params, dims: [s.numVectors, s.hiddenSize] },
      noisyLatents: { data: addNoise(s.schedule, latents, plan.noise, plan.timesteps, shape), dims: shape },
      timesteps: { data: Int32Array.from(plan.timesteps), dims: [batch] },
      target: { data: trainingTarget(s.schedule, latents, plan.noise, plan.timesteps, shape), dims: shape },
    };
  }

  const evalPlan = evalBatchPlan(s.seed, dims(s.evalBatchSize));
  const trainPlan = (step: number) => trainBatchPlan(s.seed, step, dims(s.batchSize), s.flipProbability);
  return {
    size,
    evalPlan,
    trainPlan,
    trainLossAndGradient: async (step, params) => {
      const { loss, grad } = await s.runner.step(inputs(trainPlan(step), params));
      return { loss, grad: Float32Array.from(grad) };
    },
    evalLoss: async (params) => (await s.runner.evaluate(inputs(evalPlan, params))).loss,
    resampleSources: EVAL_RANDOMNESS,
    resampledEvalLoss: async (source, step, params) =>
      (await s.runner.evaluate(inputs(resampledEvalPlan(s.seed, step, dims(s.evalBatchSize), source), params))).loss,
  };
}
