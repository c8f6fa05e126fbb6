import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeEmbedding,
  EmbeddingFormatError,
  encodeA1111Embedding,
  encodeDiffusersEmbedding,
  type LearnedEmbedding,
  readEmbeddingFile,
  writeA1111EmbeddingFile,
  writeDiffusersEmbeddingFile,
} from "../../../src/engine/embeddings/index.js";
import { buildSafetensors, f32Bytes, parseSafetensors, u16Bytes } from "./safetensors-bytes.js";

const values = [0.5, -1.25, 3, 1e-3, -7, 2.5, 0, 42];
const embedding: LearnedEmbedding = { token: "<cat-toy>", numVectors: 2, hiddenSize: 4, vectors: Float32Array.from(values), step: 384 };

describe("diffusers learned_embeds.safetensors", () => {
  it("has the diffusers layout: one F32 [k, H] tensor named after the token, metadata format=pt", () => {
    const file = encodeDiffusersEmbedding(embedding);
    const { headerText, header, data } = parseSafetensors(file);
    expect(header).toEqual({
      __metadata__: { format: "pt" },
      "<cat-toy>": { dtype: "F32", shape: [2, 4], data_offsets: [0, 32] },
    });
    expect((8 + headerText.length) % 8).toBe(0); // data starts 8-byte aligned
    expect(Array.from(data)).toEqual(Array.from(f32Bytes(values)));
  });

  it("round-trips", () => {
    const { embedding: back, format } = decodeEmbedding(encodeDiffusersEmbedding(embedding));
    expect(format).toBe("diffusers");
    expect(back).toMatchObject({ token: "<cat-toy>", numVectors: 2, hiddenSize: 4 });
    expect(Array.from(back.vectors)).toEqual(Array.from(Float32Array.from(values)));
    expect(back.step).toBeUndefined(); // diffusers files carry no step
  });

  it("reads a hand-built 1-D [H] file (older diffusers concepts) as one vector", () => {
    const file = buildSafetensors({ "<old>": { dtype: "F32", shape: [3], bytes: f32Bytes([1, 2, 3]) } });
    const { embedding: e } = decodeEmbedding(file);
    expect([e.token, e.numVectors, e.hiddenSize]).toEqual(["<old>", 1, 3]);
    expect(Array.from(e.vectors)).toEqual([1, 2, 3]);
  });
});

describe("A1111-readable and kohya embeddings ({emb_params})", () => {
  it("writes one tensor 'emb_params' (A1111 reads a single-tensor file) with name and step as metadata", () => {
    const { header, data } = parseSafetensors(encodeA1111Embedding(embedding));
    expect(header).toEqual({
      __metadata__: { format: "pt", name: "<cat-toy>", step: "384" },
      emb_params: { dtype: "F32", shape: [2, 4], data_offsets: [0, 32] },
    });
    expect(Array.from(data)).toEqual(Array.from(f32Bytes(values)));
  });

  it("round-trips, the metadata name yielding to the A1111 name (the file name) when given", () => {
    const bytes = encodeA1111Embedding(embedding);
    const plain = decodeEmbedding(bytes);
    expect(plain.format).toBe("a1111");
    expect(plain.embedding).toMatchObject({ token: "<cat-toy>", step: 384, numVectors: 2, hiddenSize: 4 });
    expect(Array.from(plain.embedding.vectors)).toEqual(Array.from(Float32Array.from(values)));
    expect(decodeEmbedding(bytes, { a1111Name: "cattoy" }).embedding.token).toBe("cattoy");
  });

  it("reads a hand-built kohya file in float16, widening exactly", () => {
    // 1, -2, 0.5, 65504 (largest half), 2^-24 (smallest subnormal), -0
    const words = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000];
    const file = buildSafetensors({ emb_params: { dtype: "F16", shape: [2, 3], bytes: u16Bytes(words) } });
    const { embedding: e, format } = decodeEmbedding(file, { a1111Name: "kohya-style" });
    expect(format).toBe("a1111");
    expect([e.token, e.numVectors, e.hiddenSize]).toEqual(["kohya-style", 2, 3]);
    expect(Array.from(e.vectors)).toEqual([1, -2, 0.5, 65504, 2 ** -24, -0]);
  });

  it("reads bfloat16 and float64 data", () => {
    // bf16 0x3fc0 = 1.5, 0xc120 = -10
    const bf = buildSafetensors({ "<b>": { dtype: "BF16", shape: [1, 2], bytes: u16Bytes([0x3fc0, 0xc120]) } });
    expect(Array.from(decodeEmbedding(bf).embedding.vectors)).toEqual([1.5, -10]);
    const f64 = new Uint8Array(new Float64Array([0.1, 2]).buffer);
    const file = buildSafetensors({ "<d>": { dtype: "F64", shape: [1, 2], bytes: f64 } });
    expect(Array.from(decodeEmbedding(file).embedding.vectors)).toEqual([Math.fround(0.1), 2]);
  });

  it("needs a name for an emb_params file without metadata", () => {
    const file = buildSafetensors({ emb_params: { dtype: "F32", shape: [1, 2], bytes: f32Bytes([1, 2]) } });
    expect(() => decodeEmbedding(file)).toThrow(/carries no name/);
  });
});

describe("refused embedding files", () => {
  const tensor = (n: number) => ({ dtype: "F32", shape: [1, n], bytes: f32Bytes(Array.from({ length: n }, (_, i) => i)) });

  it("refuses SDXL files, naming the two text encoders", () => {
    const file = buildSafetensors({ clip_l: tensor(4), clip_g: tensor(6) });
    expect(() => decodeEmbedding(file)).toThrow(EmbeddingFormatError);
    expect(() => decodeEmbedding(file)).toThrow(/SDXL.*clip_l.*clip_g/);
  });

  it("refuses files with several or no tensors", () => {
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": tensor(2), "<b>": tensor(2) }))).toThrow(/exactly one tensor.*'<a>', '<b>'/);
    expect(() => decodeEmbedding(buildSafetensors({}, { format: "pt" }))).toThrow(/holds 0 \(none\)/);
  });

  it("refuses bad shapes, integer data, non-finite values and a width the model does not take", () => {
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": { dtype: "F32", shape: [1, 1, 2], bytes: f32Bytes([1, 2]) } }))).toThrow(/shape \[1,1,2\]/);
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": { dtype: "F32", shape: [0, 4], bytes: new Uint8Array(0) } }))).toThrow(/empty/);
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": { dtype: "I32", shape: [1, 1], bytes: new Uint8Array(4) } }))).toThrow(/floating point/);
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": { dtype: "F32", shape: [1, 2], bytes: f32Bytes([1, NaN]) } }))).toThrow(/NaN/);
    expect(() => decodeEmbedding(buildSafetensors({ "<a>": tensor(1024) }), { expectedHiddenSize: 768 })).toThrow(/width 1024.*expects 768/);
  });

  it("refuses bytes that are neither safetensors nor a torch.save archive", () => {
    expect(() => decodeEmbedding(new TextEncoder().encode("PK\u0003\u0004 a torch zip"))).toThrow(/torch \.pt file: not a torch\.save archive/);
    expect(() => decodeEmbedding(new TextEncoder().encode("{not json"))).toThrow(/not a valid safetensors file/);
    expect(() => decodeEmbedding(new Uint8Array(3))).toThrow(EmbeddingFormatError);
  });

  it("refuses to write inconsistent embeddings", () => {
    expect(() => encodeDiffusersEmbedding({ ...embedding, vectors: new Float32Array(7) })).toThrow(/needs 2 x 4/);
    expect(() => encodeDiffusersEmbedding({ ...embedding, token: "" })).toThrow(/non-empty/);
    expect(() => encodeA1111Embedding({ ...embedding, vectors: Float32Array.from([...values.slice(1), Infinity]) })).toThrow(/NaN or infinite/);
    expect(() => encodeA1111Embedding({ ...embedding, step: -1 })).toThrow(/step/);
    expect(() => encodeDiffusersEmbedding({ ...embedding, numVectors: 0, vectors: new Float32Array(0) })).toThrow(/numVectors/);
  });
});

describe("embedding files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dvar-emb-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes both layouts and reads them back; A1111 files take the file name as their word", async () => {
    await writeDiffusersEmbeddingFile(join(dir, "learned_embeds.safetensors"), embedding);
    await writeA1111EmbeddingFile(join(dir, "cat-toy.safetensors"), embedding);
    const diffusers = await readEmbeddingFile(join(dir, "learned_embeds.safetensors"));
    expect(diffusers.embedding.token).toBe("<cat-toy>");
    const a1111 = await readEmbeddingFile(join(dir, "cat-toy.safetensors"));
    expect(a1111).toMatchObject({ format: "a1111", embedding: { token: "cat-toy", step: 384 } });
    expect(Array.from(a1111.embedding.vectors)).toEqual(Array.from(embedding.vectors));
    expect(new Uint8Array(await readFile(join(dir, "learned_embeds.safetensors")))).toEqual(encodeDiffusersEmbedding(embedding));
  });

  it("refuses legacy pickles, other extensions and missing files, naming the path", async () => {
    await writeFile(join(dir, "old.pt"), new Uint8Array([0x80, 0x02]));
    await expect(readEmbeddingFile(join(dir, "old.pt"))).rejects.toThrow(/old\.pt: torch \.pt file: this is torch's legacy/);
    await expect(readEmbeddingFile(join(dir, "x.json"))).rejects.toThrow(/x\.json: expected a \.safetensors/);
    await expect(readEmbeddingFile(join(dir, "missing.safetensors"))).rejects.toThrow(/missing\.safetensors: cannot read the file \(ENOENT\)/);
    await writeFile(join(dir, "broken.safetensors"), new Uint8Array([1, 2, 3]));
    await expect(readEmbeddingFile(join(dir, "broken.safetensors"))).rejects.toThrow(/broken\.safetensors: not a valid safetensors/);
  });
});
