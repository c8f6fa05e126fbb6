import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PickleWriter } from "../../../src/core/io/pickle.js";
import { decodeStoredZip, encodeStoredZip } from "../../../src/core/io/zip-stored.js";
import { decodeEmbedding, encodeA1111PtEmbedding, readEmbeddingFile, type LearnedEmbedding } from "../../../src/engine/embeddings/index.js";
import { isPtTensor, readTorchPt } from "../../../src/engine/embeddings/torch-pt.js";
import { HAS_TORCH, TORCH_SKIP_NOTE, torchLoadA1111Pt } from "../../support/torch-load.js";

// Fixtures written by torch.save (torch 1.13) with tools/reference/a1111_pt.py.
const FIXTURES = join(import.meta.dirname, "../../fixtures/a1111-pt");

interface Expected {
  keys: string[];
  name: string | null;
  step: number | null;
  dtype: string;
  shape: number[];
  values: number[];
}

let expected: Record<string, Expected>;
beforeAll(async () => {
  expected = JSON.parse(await readFile(join(FIXTURES, "expected.json"), "utf8")).cases;
});

const fixture = (name: string) => readFile(join(FIXTURES, `${name}.pt`));

describe("reading torch.save archives (fixtures from torch 1.13)", () => {
  const cases = ["a1111-f32-k1", "a1111-f32-k3", "a1111-f16-k1", "a1111-f16-k3", "a1111-bf16-k1", "a1111-bf16-k3", "a1111-f32-strided", "a1111-parameter"];
  it.each(cases)("%s: keys, name, step, shape and every value exactly", async (name) => {
    const want = expected[name]!;
    const root = readTorchPt(await fixture(name)) as Map<string, unknown>;
    expect([...root.keys()]).toEqual(want.keys);
    expect(root.get("string_to_token")).toEqual(new Map([["*", 265]]));
    expect(root.get("sd_checkpoint")).toBeNull();
    const tensor = (root.get("string_to_param") as Map<string, unknown>).get("*");
    expect(isPtTensor(tensor)).toBe(true);

    const { embedding, format } = decodeEmbedding(await fixture(name));
    expect(format).toBe("a1111");
    expect(embedding.token).toBe(want.name);
    expect(embedding.step).toBe(want.step ?? undefined);
    expect([embedding.numVectors, embedding.hiddenSize]).toEqual(want.shape);
    expect(Array.from(embedding.vectors)).toEqual(want.values);
  });

  it("kohya's {emb_params} layout in a .pt, named after the file", async () => {
    const want = expected["emb-params-f16"]!;
    const bytes = await fixture("emb-params-f16");
    expect(() => decodeEmbedding(bytes)).toThrow(/carries no name/);
    const { embedding, format } = decodeEmbedding(bytes, { a1111Name: "kohya" });
    expect(format).toBe("a1111");
    expect(embedding.token).toBe("kohya");
    expect([embedding.numVectors, embedding.hiddenSize]).toEqual(want.shape);
    expect(Array.from(embedding.vectors)).toEqual(want.values);
  });

  it("diffusers' learned_embeds.bin ({token: [H]}) keeps its token", async () => {
    const want = expected["diffusers-bin"]!;
    const { embedding, format } = await readEmbeddingFile(join(FIXTURES, "diffusers-bin.bin"));
    expect(format).toBe("diffusers");
    expect([embedding.token, embedding.numVectors, embedding.hiddenSize]).toEqual(["<cat-toy>", 1, want.shape[0]]);
    expect(Array.from(embedding.vectors)).toEqual(want.values);
  });

  it("readEmbeddingFile reads .pt and names the embedding after the file, as A1111 does", async () => {
    const { embedding } = await readEmbeddingFile(join(FIXTURES, "a1111-f16-k3.pt"), { expectedHiddenSize: 8 });
    expect(embedding.token).toBe("a1111-f16-k3");
    expect(Array.from(embedding.vectors)).toEqual(expected["a1111-f16-k3"]!.values);
    await expect(readEmbeddingFile(join(FIXTURES, "a1111-f16-k3.pt"), { expectedHiddenSize: 768 })).rejects.toThrow(/width 8/);
  });
});

const sample: LearnedEmbedding = {
  token: "cat-toy",
  numVectors: 3,
  hiddenSize: 5,
  vectors: Float32Array.from({ length: 15 }, (_, i) => Math.fround(Math.sin(i + 1) * 10 ** ((i % 5) - 2))),
  step: 4321,
};

describe("writing A1111's .pt", () => {
  it("round-trips exactly and is byte-reproducible", () => {
    const bytes = encodeA1111PtEmbedding(sample);
    expect(encodeA1111PtEmbedding(sample)).toEqual(bytes);
    const { embedding, format } = decodeEmbedding(bytes);
    expect(format).toBe("a1111");
    expect(embedding).toEqual(sample);
    const root = readTorchPt(bytes) as Map<string, unknown>;
    expect([...root.keys()]).toEqual(["string_to_token", "string_to_param", "name", "step", "sd_checkpoint", "sd_checkpoint_name"]);
  });

  it("writes step None when the step is unknown", () => {
    const { step: _, ...noStep } = sample;
    const root = readTorchPt(encodeA1111PtEmbedding(noStep)) as Map<string, unknown>;
    expect(root.get("step")).toBeNull();
  });
});

describe("refusals", () => {
  const archive = (pickle: Uint8Array) => encodeStoredZip([{ name: "archive/data.pkl", data: pickle }, { name: "archive/version", data: new TextEncoder().encode("3\n") }]);

  it("never executes a pickle: GLOBAL os.system is refused by name", () => {
    const evil = new PickleWriter().global("os", "system").mark().string("touch /tmp/pwned").tuple().reduce().finish();
    expect(() => decodeEmbedding(archive(evil))).toThrow(/refused global 'os\.system'/);
    const viaBuiltins = new PickleWriter().global("builtins", "eval").mark().string("1").tuple().reduce().finish();
    expect(() => decodeEmbedding(archive(viaBuiltins))).toThrow(/refused global 'builtins\.eval'/);
  });

  it("refuses a module object (old ParameterDict embeddings) by its class name", () => {
    const module = new PickleWriter().global("torch.nn.modules.container", "ParameterDict").emptyTuple().reduce().finish();
    expect(() => decodeEmbedding(archive(module))).toThrow(/refused global 'torch\.nn\.modules\.container\.ParameterDict'/);
  });

  it("refuses truncated and damaged archives", () => {
    const bytes = encodeA1111PtEmbedding(sample);
    for (const cut of [bytes.length - 1, bytes.length - 30, Math.floor(bytes.length / 2), 10]) {
      expect(() => decodeEmbedding(bytes.subarray(0, cut))).toThrow(/torch \.pt file: not a torch\.save archive/);
    }
    const damaged = Uint8Array.from(bytes);
    damaged[64 + 10]! ^= 0x01; // inside data.pkl, whose data starts at the first 64-byte boundary
    expect(() => decodeEmbedding(damaged)).toThrow(/CRC-32/);
  });

  it("refuses a broadcast view larger than its storage before allocating it", () => {
    const p = new PickleWriter().emptyDict().string("emb_params").global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark().string("storage").global("torch", "FloatStorage").string("0").string("cpu").int(1).tuple().persistentId();
    p.int(0).mark().int(100000).int(100000).tuple().mark().int(0).int(0).tuple().bool(false);
    p.global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce().setItem();
    const bytes = encodeStoredZip([{ name: "a/data.pkl", data: p.finish() }, { name: "a/data/0", data: new Uint8Array(4) }]);
    expect(() => decodeEmbedding(bytes, { a1111Name: "x" })).toThrow(/shape \[100000,100000\] has more elements than its storage \(1\)/);
  });

  it("refuses the legacy (pre-1.6) torch format with a way out", () => {
    expect(() => decodeEmbedding(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a]))).toThrow(/legacy/);
  });

  it("refuses a storage whose size disagrees with its element count", () => {
    // Rewrite the archive with one float missing from the storage.
    const entries = decodeStoredZip(encodeA1111PtEmbedding(sample));
    const rebuilt = encodeStoredZip([...entries].map(([name, data]) => ({ name, data: name.endsWith("data/0") ? data.subarray(4) : data })));
    expect(() => decodeEmbedding(rebuilt)).toThrow(/storage '0' holds 56 bytes/);
  });
});

// Loading our file with PyTorch itself (test/support/torch-load.ts); skips loudly without torch.
describe.skipIf(!HAS_TORCH)(`torch.load reads our .pt${TORCH_SKIP_NOTE}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "a1111-pt-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ["k=3 with a step", sample],
    ["k=1 without a step", { token: "solo", numVectors: 1, hiddenSize: 4, vectors: Float32Array.from([1.5, -2.25, 3e-8, -0]) }],
  ] as const)("%s: keys, dtype, shape and values exactly", async (_, embedding) => {
    const path = join(dir, `${embedding.token}.pt`);
    await writeFile(path, encodeA1111PtEmbedding(embedding));
    const loaded = torchLoadA1111Pt(path);
    expect(loaded).toEqual({
      type: "dict",
      keys: ["string_to_token", "string_to_param", "name", "step", "sd_checkpoint", "sd_checkpoint_name"],
      string_to_token: { "*": 265 },
      name: embedding.token,
      step: "step" in embedding ? embedding.step : null,
      sd_checkpoint: null,
      sd_checkpoint_name: null,
      dtype: "torch.float32",
      shape: [embedding.numVectors, embedding.hiddenSize],
      contiguous: true,
      values: Array.from(embedding.vectors),
    });
  });
});
