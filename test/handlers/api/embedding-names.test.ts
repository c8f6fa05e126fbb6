/**
 * The A1111 downloads of a textual inversion are named as the name written inside them, for any
 * token the API accepts (one rule: a1111EmbeddingName). The job's slices run a stand-in objective
 * registered under the textual-inversion kind (the real one is covered by textual-inversion.test.ts),
 * and its outputs are written by the real writer, writeEmbeddingOutputs.
 */
import { describe, expect, it } from "vitest";
import { createSyntheticObjective, SYNTHETIC_DEFAULTS } from "../../../src/core/synthetic/objective.js";
import { decodeEmbedding } from "../../../src/engine/embeddings/index.js";
import { objectiveRegistry, type ObjectiveFactory } from "../../../src/services/slices/objectives.js";
import { TEXTUAL_INVERSION_KIND, writeEmbeddingOutputs } from "../../../src/services/slices/textual-inversion.js";
import { ODD_TOKENS } from "../../helpers/odd-tokens.js";
import { createHarness, textualInversionBody, uploadConcept } from "./harness.js";

const standIn: ObjectiveFactory = async (config) => {
  const objective = createSyntheticObjective(config.seed, SYNTHETIC_DEFAULTS);
  return { objective, initialParams: () => objective.initialParams() };
};

describe("A1111 embedding names through the API", () => {
  it("serves each A1111 file under the name it carries inside, for odd tokens", async () => {
    const h = await createHarness({ objectives: objectiveRegistry({ [TEXTUAL_INVERSION_KIND]: standIn }), outputs: writeEmbeddingOutputs });
    const images = await uploadConcept(h);
    for (const [token, name] of ODD_TOKENS) {
      const created = await h.post("/v1/inversions", textualInversionBody(images, { placeholder_token: token, max_steps: 2, stopping: { name: "fixed", steps: 2 } }));
      expect(created.status, token).toBe(202);
      const { id } = (await created.json()) as { id: string };
      await h.dispatcher.drain();
      const job = (await (await h.call(`/v1/inversions/${id}`)).json()) as { status: string; placeholder_token: string };
      expect(job).toMatchObject({ status: "succeeded", placeholder_token: token });
      for (const [format, extension] of [["a1111", ".safetensors"], ["a1111-pt", ".pt"]] as const) {
        const response = await h.call(`/v1/inversions/${id}/embedding?format=${format}`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${name}${extension}"`);
        const inside = decodeEmbedding(new Uint8Array(await response.arrayBuffer())).embedding;
        expect(inside.token, `${token} ${format}`).toBe(name);
      }
      // diffusers keeps the token itself (it is the prompt word there) under its fixed file name.
      const diffusers = await h.call(`/v1/inversions/${id}/embedding?format=diffusers`);
      expect(diffusers.headers.get("content-disposition")).toBe('attachment; filename="learned_embeds.safetensors"');
      expect(decodeEmbedding(new Uint8Array(await diffusers.arrayBuffer())).embedding.token).toBe(token);
    }
  }, 60_000);
});
