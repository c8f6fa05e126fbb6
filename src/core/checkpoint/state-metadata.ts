/** The JSON part of a checkpoint's state (everything that is not a tensor), validated on decode. */
import { z } from "zod";

const finiteOrNull = z.number().nullable();

export const finalOutcomeSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("converged"), step: z.number().int().min(0), criterion: z.string(), value: finiteOrNull }),
  z.strictObject({ kind: z.literal("max_steps"), step: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal("failed"), step: z.number().int().min(0), reason: z.string() }),
]);

export const stateMetadataSchema = z.strictObject({
  step: z.number().int().min(0),
  seed: z.number().int().min(0),
  optimizer: z.strictObject({ name: z.string(), step: z.number().int().min(0), buffers: z.array(z.string()) }),
  criterion: z.record(z.string(), z.unknown()),
  best: z.strictObject({ step: z.number().int().min(1), ldet: z.number() }).nullable(),
  finished: finalOutcomeSchema.nullable(),
});

export type StateMetadata = z.infer<typeof stateMetadataSchema>;
