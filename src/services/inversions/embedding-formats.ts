/**
 * The embedding formats a finished textual inversion is stored and served in. EMBEDDING_FORMATS
 * is the one list: the API's `format` enum and `embedding_formats` are built from it, and the
 * records below must name every entry (the type checker says so).
 */
import type { JobRecord } from "../jobs/index.js";

export const EMBEDDING_FORMATS = ["diffusers", "a1111", "a1111-pt"] as const;
export type EmbeddingFormat = (typeof EMBEDDING_FORMATS)[number];

/** Output names under which a finished job's embedding formats are stored (see OutputWriter). */
export const EMBEDDING_OUTPUTS = {
  diffusers: "embedding.diffusers",
  a1111: "embedding.a1111",
  "a1111-pt": "embedding.a1111-pt",
} as const satisfies Record<EmbeddingFormat, string>;

/** The file extension of each format, in its Store key and its download's file name. */
export const EMBEDDING_EXTENSIONS = {
  diffusers: ".safetensors",
  a1111: ".safetensors",
  "a1111-pt": ".pt",
} as const satisfies Record<EmbeddingFormat, string>;

/** The formats this job's outputs hold (jobs finished before a format was added lack it). */
export function embeddingFormatsOf(job: Pick<JobRecord, "outputs">): EmbeddingFormat[] {
  return EMBEDDING_FORMATS.filter((format) => job.outputs?.[EMBEDDING_OUTPUTS[format]] !== undefined);
}
