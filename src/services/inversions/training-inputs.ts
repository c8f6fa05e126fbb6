/**
 * The checks a textual_inversion request gets before anything is stored, so that what the
 * engine would refuse in the first slice (an unknown model, a token it cannot add, an image it
 * cannot train on) is refused at creation with a 4xx instead. The engine's own checks are
 * reused (the tokenizer rules, `inspectTrainingImage`), with the API's upload limits, which are
 * stricter than the engine's, so an image accepted here is accepted by the slice.
 *
 * Model-dependent checks (tokens, the shorter side at the model's resolution) need the model
 * catalog; without one only the images themselves are checked.
 */
import { ImageInputError, inspectTrainingImage, resolveImageOptions } from "../../engine/images/index.js";
import { openModelFolder } from "../../engine/model/folder.js";
import { addPlaceholder, type ClipTokenizer, loadClipTokenizer, resolveInitializer, TokenizerError } from "../../engine/tokenizer/index.js";
import type { Store } from "../../ports/store/index.js";
import { UnknownModelError, type ModelCatalog } from "../models/model-catalog.js";
import { readUpload } from "../uploads/upload-lookup.js";
import { MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, sniffImageType } from "../uploads/upload-rules.js";
import { TrainingInputError, type InlineImage, type TrainingInputCheck, type TrainingInputs } from "./training-input-error.js";

export { TrainingInputError, type InlineImage, type TrainingInputCheck, type TrainingInputCode, type TrainingInputs } from "./training-input-error.js";

interface ModelFacts {
  readonly resolution: number;
  readonly tokenizer: ClipTokenizer;
}

export class TrainingInputChecker implements TrainingInputCheck {
  /** Tokenizers and resolutions per model folder: read once per process (model folders do not change under a deployment). */
  private readonly facts = new Map<string, Promise<ModelFacts>>();

  constructor(
    private readonly store: Store,
    private readonly models?: ModelCatalog,
  ) {}

  /**
   * Resolves when the inputs are usable; throws TrainingInputError otherwise. Reads the uploads
   * (or takes `inline` images, one per image, sent with the request), writes nothing.
   */
  async check(inputs: TrainingInputs, inline?: readonly InlineImage[]): Promise<void> {
    const model = this.models ? await this.modelFacts(inputs.model) : undefined;
    if (model) checkTokens(model.tokenizer, inputs);
    // The shorter side must reach half the model's resolution; without a model any side passes
    // here (resolution 1) and the slice checks it.
    const options = resolveImageOptions({ resolution: model?.resolution ?? 1, maxBytes: MAX_UPLOAD_BYTES, maxPixels: MAX_UPLOAD_PIXELS });
    for (const [i, id] of inputs.images.entries()) {
      const image = inline?.[i];
      // Named as the client knows it: the upload id it sent, or the form part (the fresh upload
      // ids of a multipart request are never shown to the client).
      const subject = image?.label ?? `images: upload "${id}"`;
      const found = image === undefined ? await readUpload(this.store, inputs.tenantId, id) : { body: image.bytes };
      if (!found) throw new TrainingInputError("upload_missing", `${subject} does not exist`);
      // Magic numbers first, so the decoder is never handed anything but the three formats.
      if (sniffImageType(found.body) === undefined) throw new TrainingInputError("invalid_image", `${subject} is not a PNG, JPEG or WebP image`);
      try {
        await inspectTrainingImage(subject, found.body, options);
      } catch (error) {
        // The engine's message starts with the subject: `<subject>: 8x8 is too small: ...`.
        if (error instanceof ImageInputError) throw new TrainingInputError("invalid_image", error.message);
        throw error;
      }
    }
  }

  private modelFacts(id: string): Promise<ModelFacts> {
    let dir: string;
    try {
      dir = this.models!.resolve(id);
    } catch (error) {
      if (error instanceof UnknownModelError) throw new TrainingInputError("unknown_model", `model: ${error.message}`);
      throw error;
    }
    let facts = this.facts.get(dir);
    if (!facts) {
      facts = (async () => {
        const folder = openModelFolder(dir);
        return { resolution: folder.resolution, tokenizer: await loadClipTokenizer(folder.tokenizerDir) };
      })();
      // A broken folder is a deployment fault: report it (500), and try again next time.
      facts.catch(() => this.facts.delete(dir));
      this.facts.set(dir, facts);
    }
    return facts;
  }
}

/** The engine's token rules (describeInversion): the placeholder must be new, the initializer one vocabulary token. */
function checkTokens(tokenizer: ClipTokenizer, inputs: TrainingInputs): void {
  try {
    addPlaceholder(tokenizer, inputs.placeholderToken, inputs.numVectors);
  } catch (error) {
    if (error instanceof TokenizerError) throw new TrainingInputError("invalid_token", `placeholder_token: ${error.message}`);
    throw error;
  }
  try {
    resolveInitializer(tokenizer, { kind: "word", word: inputs.initializerToken });
  } catch (error) {
    if (error instanceof TokenizerError) throw new TrainingInputError("invalid_token", `initializer_token: ${error.message}`);
    throw error;
  }
}
