/** The file edge of the embedding formats: picks the format from the name, reads and writes files. */
import { readFile, writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import {
  decodeEmbedding,
  type DecodedEmbedding,
  type DecodeOptions,
  EmbeddingFormatError,
  encodeA1111Embedding,
  encodeA1111PtEmbedding,
  encodeDiffusersEmbedding,
  type LearnedEmbedding,
} from "./formats.js";

/** Reads a `.safetensors` or torch `.pt`/`.bin` embedding; an A1111/kohya file is named after the file, as A1111 does. */
export async function readEmbeddingFile(path: string, options: Omit<DecodeOptions, "a1111Name"> = {}): Promise<DecodedEmbedding> {
  const ext = extname(path).toLowerCase();
  if (ext !== ".safetensors" && ext !== ".pt" && ext !== ".bin") {
    throw new EmbeddingFormatError(`${path}: expected a .safetensors, .pt or .bin embedding file`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new EmbeddingFormatError(`${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return decodeEmbedding(bytes, { ...options, a1111Name: basename(path, extname(path)) });
  } catch (error) {
    if (error instanceof EmbeddingFormatError) throw new EmbeddingFormatError(`${path}: ${error.message}`);
    throw error;
  }
}

/** Writes the embedding in the diffusers layout (usually as `learned_embeds.safetensors`). */
export async function writeDiffusersEmbeddingFile(path: string, embedding: LearnedEmbedding): Promise<void> {
  await writeFile(path, encodeDiffusersEmbedding(embedding));
}

/** Writes the A1111-readable layout; A1111 will call the embedding by this file's name. */
export async function writeA1111EmbeddingFile(path: string, embedding: LearnedEmbedding): Promise<void> {
  await writeFile(path, encodeA1111Embedding(embedding));
}

/** Writes A1111's own `.pt` layout (a torch.save archive); A1111 calls it by the file name too. */
export async function writeA1111PtEmbeddingFile(path: string, embedding: LearnedEmbedding): Promise<void> {
  await writeFile(path, encodeA1111PtEmbedding(embedding));
}
