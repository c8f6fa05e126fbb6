/**
 * From the public request to the engine's InversionConfig. The objective record names what the
 * slice's objective factory needs; for Textual Inversion `images` are Store keys of the tenant's
 * uploads the job was created from and `inputs` the keys of the job's own copies of them
 * (services/jobs/job-inputs.ts), which its slices read, so the config hash covers exactly which
 * inputs the job trains on.
 */
import type { InversionConfigInput } from "../../core/inversion/config.js";
import { SYNTHETIC_DEFAULTS } from "../../core/synthetic/objective.js";
import type { CreateInversionRequest } from "../../handlers/schemas/inversion-request.js";
import { uploadKey } from "../uploads/upload-keys.js";

/**
 * The engine's default train batch (DEFAULT_TRAIN_BATCH_SIZE in src/engine/inversion/job.ts),
 * repeated here because that module loads onnxruntime and this one runs on Workers too;
 * test/services/inversions/config-from-request.test.ts keeps the two equal.
 */
export const ENGINE_TRAIN_BATCH_SIZE = 4;

/** The objective kind the slice service's registry is asked for. */
export const OBJECTIVE_KINDS = { textual_inversion: "textual-inversion", synthetic: "synthetic" } as const;

/**
 * `inputs`: the job's copies of the request's images, in order (absent while the job id is not
 * final); `sourceKeys`: the key each copy was made from, where known (an upload issued before the
 * layout change lives under its old key, which is where a slice must look if its copy is gone).
 */
export function configFromRequest(
  request: CreateInversionRequest,
  tenantId: string,
  inputs?: readonly string[],
  sourceKeys?: readonly (string | undefined)[],
): InversionConfigInput {
  const base = {
    seed: request.seed,
    maxSteps: request.max_steps,
    learningRate: request.learning_rate,
    stop: request.stopping,
  };
  if (request.objective === "synthetic") {
    return {
      ...base,
      objective: { ...SYNTHETIC_DEFAULTS, kind: OBJECTIVE_KINDS.synthetic, dim: request.dim, batchSize: request.batch_size },
    };
  }
  return {
    ...base,
    // The same rate `dvar invert` trains at for the same number (diffusers' --scale_lr).
    learningRate: request.scale_lr ? request.learning_rate * ENGINE_TRAIN_BATCH_SIZE : request.learning_rate,
    objective: {
      kind: OBJECTIVE_KINDS.textual_inversion,
      model: request.model,
      placeholderToken: request.placeholder_token,
      initializerToken: request.initializer_token,
      numVectors: request.num_vectors,
      learnableProperty: request.learnable_property,
      images: request.images.map((id, i) => sourceKeys?.[i] ?? uploadKey(tenantId, id)),
      ...(inputs === undefined ? {} : { inputs: [...inputs] }),
    },
  };
}
