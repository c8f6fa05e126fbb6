/**
 * The "textual-inversion" objective for slices, and its output writer. A job's config names a
 * model id, a placeholder, an initializer word, the upload Store keys it was created from and the
 * job's own copies of them (`inputs`, services/jobs/job-inputs.ts; jobs created before the copies
 * existed have none and read the uploads); each slice resolves the id through the model catalog,
 * copies the training images' bytes into a private temporary folder and
 * hands them to the engine (describeInversion + openInversion), which decodes them with its
 * own image loader and rebuilds the objective from the config and seed alone, so every slice
 * of a job trains on the identical objective and a resumed run is bit-identical.
 *
 * The VAE runs only in a job's first slice: the latent cache it builds is stored as an object of
 * the job, `jobs/<id>/latents/<sha256 of its bytes>.safetensors` (create-only), and later slices
 * read it instead of encoding the images again (it holds the exact float32 values, so results
 * stay bit-identical). On read the bytes must hash to the name and the file must say it was
 * built from this job's model and images; an object that fails is deleted (it is provably not
 * what was written) and the latents are encoded again and stored anew.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { a1111EmbeddingName, encodeA1111Embedding, encodeA1111PtEmbedding, encodeDiffusersEmbedding } from "../../engine/embeddings/index.js";
import { ImageInputError } from "../../engine/images/index.js";
import { describeInversion, type InversionDescription, InversionJobError, openInversion } from "../../engine/inversion/job.js";
import { LatentCache, LatentError } from "../../engine/inversion/latents.js";
import { embeddingOf } from "../../engine/inversion/outputs.js";
import { ModelFolderError } from "../../engine/model/folder.js";
import { jobLatentsPrefix } from "../jobs/job-inputs.js";
import { TokenizerError } from "../../engine/tokenizer/clip-tokenizer.js";
import { stringifyExact } from "../../core/io/exact-json.js";
import { PreconditionFailedError, type Store } from "../../ports/store/index.js";
import { EMBEDDING_EXTENSIONS, EMBEDDING_FORMATS, EMBEDDING_OUTPUTS, type EmbeddingFormat } from "../inversions/embedding-formats.js";
import { defaultModelCatalog, UnknownModelError, type ModelCatalog } from "../models/model-catalog.js";
import { outputsPrefix, writeParamsOutput, type OutputWriter } from "./artifacts.js";
import { ObjectiveInputError, type ObjectiveFactory } from "./objectives.js";
import type { ExecutionProvider } from "../../runtime/session.js";

export const TEXTUAL_INVERSION_KIND = "textual-inversion";

/** The objective record the API writes (services/inversions/config-from-request.ts). */
const tiObjectiveSchema = z.strictObject({
  kind: z.literal(TEXTUAL_INVERSION_KIND),
  model: z.string().min(1),
  placeholderToken: z.string().min(1),
  initializerToken: z.string().min(1),
  numVectors: z.int().min(1),
  learnableProperty: z.enum(["object", "style"]),
  images: z.array(z.string().min(1)).min(1),
  /** The job's copies of `images`, in the same order; absent in records written before copies existed. */
  inputs: z.array(z.string().min(1)).min(1).optional(),
}).refine((o) => o.inputs === undefined || o.inputs.length === o.images.length, { message: "inputs must list one copy per image", path: ["inputs"] });

export type TextualInversionObjective = z.infer<typeof tiObjectiveSchema>;

export function parseTextualInversionObjective(objective: unknown): TextualInversionObjective {
  const parsed = tiObjectiveSchema.safeParse(objective);
  if (!parsed.success) throw new ObjectiveInputError("invalid_config", `the textual-inversion objective is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export interface TextualInversionFactoryOptions {
  readonly store: Store;
  readonly models?: ModelCatalog;
  /** onnxruntime intra-op threads (0: all cores). */
  readonly threads?: number;
  /** Compiled-graph cache folder (engine default when absent; null disables it). */
  readonly cacheDir?: string | null;
  /**
   * Run the model's sessions on worker threads (default true): onnxruntime-node runs a session
   * on the calling thread, so otherwise every model call blocks the event loop, and with it the
   * lease heartbeat's timer and, in the embedded server, HTTP answers. Same results either way.
   */
  readonly offThread?: boolean;
  /** onnxruntime execution providers (default the CPU; DVAR_ORT_PROVIDERS on a worker). */
  readonly executionProviders?: readonly ExecutionProvider[];
}

/** Engine refusals of the job's content: retrying cannot fix them, so the job fails with a code. */
function asInputError(error: unknown): ObjectiveInputError | undefined {
  if (error instanceof ObjectiveInputError) return error;
  if (error instanceof UnknownModelError) return new ObjectiveInputError("unknown_model", error.message);
  if (error instanceof ImageInputError) return new ObjectiveInputError("invalid_image", error.message);
  if (error instanceof TokenizerError) return new ObjectiveInputError("invalid_token", error.message);
  if (error instanceof InversionJobError || error instanceof ModelFolderError) return new ObjectiveInputError("invalid_objective", error.message);
  return undefined;
}

export function textualInversionObjectiveFactory(options: TextualInversionFactoryOptions): ObjectiveFactory {
  const models = options.models ?? defaultModelCatalog();
  const threads = options.threads ?? 0;
  const offThread = options.offThread ?? true;
  return async (config, jobId) => {
    const dir = await mkdtemp(join(tmpdir(), "dvar-ti-"));
    try {
      const spec = parseTextualInversionObjective(config.objective);
      const modelDir = models.resolve(spec.model);
      const files: string[] = [];
      for (const [i, key] of trainingImageKeys(spec).entries()) {
        // A copy deleted by the orphan sweep racing a retried create: the upload it was copied
        // from (the same bytes, checked at the copy) is read instead while it exists.
        const found = (await options.store.get(key)) ?? (spec.inputs && spec.images[i] !== undefined ? await options.store.get(spec.images[i]!) : undefined);
        if (!found) throw new ObjectiveInputError("upload_missing", `job "${jobId}": training image ${key} is not in the store`);
        // No extension: the engine decides the format from the bytes, never from a name.
        const file = join(dir, `image-${String(i).padStart(3, "0")}`);
        await writeFile(file, found.body);
        files.push(file);
      }
      const description = await describeInversion(
        { model: modelDir, images: files, token: spec.placeholderToken, init: { kind: "word", word: spec.initializerToken }, seed: config.seed, numVectors: spec.numVectors, property: spec.learnableProperty },
        { threads },
      );
      const source = latentSource(description);
      const stored = await readStoredLatents(options.store, jobId, source);
      const open = await openInversion(description, config.seed, {
        threads,
        offThread,
        executionProviders: options.executionProviders,
        ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
        ...(stored ? { latents: stored } : {}),
      });
      if (!stored) await storeLatents(options.store, jobId, open.latents.encode(source));
      const initial = open.initialParams;
      return { objective: open.objective, initialParams: () => initial.slice(), close: () => open.close() };
    } catch (error) {
      throw asInputError(error) ?? error;
    } finally {
      // openInversion has read and encoded the images; the copies are not needed after it.
      await rm(dir, { recursive: true, force: true });
    }
  };
}

/** Where a slice reads the training images: the job's own copies, or (older jobs) the uploads. */
export function trainingImageKeys(spec: TextualInversionObjective): readonly string[] {
  return spec.inputs ?? spec.images;
}

export const latentsPrefix = jobLatentsPrefix;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** What the latents are a function of: the model and the images' bytes, the resolution and whether flips are encoded (not where the files sit). */
function latentSource(d: InversionDescription): string {
  const inputs = { model: d.model.fingerprint, images: d.images.map((i) => i.sha256), resolution: d.resolution, flipped: d.flipProbability > 0 };
  return createHash("sha256").update(stringifyExact(inputs)).digest("hex");
}

/** The job's stored latent cache built from `source`, or undefined; corrupt objects (bytes not matching their name) are deleted. */
async function readStoredLatents(store: Store, jobId: string, source: string): Promise<LatentCache | undefined> {
  const page = await store.list(latentsPrefix(jobId));
  for (const { key } of page.entries) {
    const found = await store.get(key);
    if (!found) continue;
    const named = key.slice(latentsPrefix(jobId).length).replace(/\.safetensors$/, "");
    if (sha256(found.body) !== named) {
      await store.delete(key);
      continue;
    }
    try {
      return LatentCache.decode(found.body, source);
    } catch (error) {
      // Intact but from other inputs (the model behind the id changed, say): not this run's.
      if (!(error instanceof LatentError)) throw error;
    }
  }
  return undefined;
}

/** Create-only under its content hash: a duplicate slice writing the same bytes finds them there. */
async function storeLatents(store: Store, jobId: string, bytes: Uint8Array): Promise<void> {
  try {
    await store.put(`${latentsPrefix(jobId)}${sha256(bytes)}.safetensors`, bytes, { ifNoneMatch: "*", contentType: "application/octet-stream" });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
}

/** Writes a finished textual inversion's embedding in every format the API serves. */
export const writeEmbeddingOutputs: OutputWriter = async ({ store, job, state, attempt }) => {
  const spec = parseTextualInversionObjective(job.config.objective);
  const embedding = embeddingOf(state, spec.placeholderToken, spec.numVectors);
  // A1111 calls an embedding by its file name; the API serves both A1111 files under this name.
  const a1111 = { ...embedding, token: a1111EmbeddingName(spec.placeholderToken) };
  const files: Record<EmbeddingFormat, Uint8Array> = {
    diffusers: encodeDiffusersEmbedding(embedding),
    a1111: encodeA1111Embedding(a1111),
    "a1111-pt": encodeA1111PtEmbedding(a1111),
  };
  const keys: Record<string, string> = {};
  for (const format of EMBEDDING_FORMATS) {
    const key = `${outputsPrefix(job.id, attempt)}${EMBEDDING_OUTPUTS[format]}${EMBEDDING_EXTENSIONS[format]}`;
    await store.put(key, files[format], { ifNoneMatch: "*", contentType: "application/octet-stream" });
    keys[EMBEDDING_OUTPUTS[format]] = key;
  }
  return keys;
};

/** Embeddings for textual inversions, the raw parameters for anything else. */
export const writeDefaultOutputs: OutputWriter = (context) =>
  (context.job.config.objective as { kind?: unknown } | undefined)?.kind === TEXTUAL_INVERSION_KIND ? writeEmbeddingOutputs(context) : writeParamsOutput(context);
