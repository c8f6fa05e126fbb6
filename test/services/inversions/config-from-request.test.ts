import { describe, expect, it } from "vitest";
import { DEFAULT_TRAIN_BATCH_SIZE } from "../../../src/engine/inversion/job.js";
import { configFromRequest, ENGINE_TRAIN_BATCH_SIZE } from "../../../src/services/inversions/config-from-request.js";
import { createInversionRequestSchema } from "../../../src/handlers/schemas/inversion-request.js";

describe("configFromRequest", () => {
  it("uses the engine's train batch for scale_lr (the constant is repeated to keep the control plane free of onnxruntime)", () => {
    expect(ENGINE_TRAIN_BATCH_SIZE).toBe(DEFAULT_TRAIN_BATCH_SIZE);
    const request = createInversionRequestSchema.parse({
      objective: "textual_inversion",
      model: "tiny-sd",
      images: ["upl_0123456789ab", "upl_0123456789ac", "upl_0123456789ad"],
      placeholder_token: "<cat-toy>",
      initializer_token: "toy",
      learning_rate: 0.001,
      scale_lr: true,
    });
    const config = configFromRequest(request, "tenant-a");
    expect(config.learningRate).toBeCloseTo(0.001 * DEFAULT_TRAIN_BATCH_SIZE, 12);
  });
});
