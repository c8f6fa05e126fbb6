import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../../src/core/io/safetensors.js";
import { main } from "../../src/cli/main.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dvar-ti-grad-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MODEL = "test/fixtures/tiny-sd-b";
const REFERENCE = `${MODEL}/references/k2-b3.safetensors`;

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const stderr: string[] = [];
  const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => (stderr.push(String(s)), true));
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    return { code: await main(args), stderr: stderr.join("") };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

describe("dvar ti-grad", () => {
  it("writes loss and grad matching the PyTorch reference, with int32 ids and int64 timesteps converted", async () => {
    const ref = decodeSafetensors(fs.readFileSync(REFERENCE)).tensors;
    // The reference holds int64 ids and float timesteps; give the CLI other dtypes to convert.
    const inputs = encodeSafetensors({
      input_ids: { dtype: "I32", shape: ref.input_ids!.shape, data: Int32Array.from(ref.input_ids!.data as BigInt64Array, Number) },
      timesteps: { dtype: "I64", shape: [3], data: BigInt64Array.from(ref.timesteps!.data as Float32Array, (v) => BigInt(v)) },
      concept: ref.concept!, noisy_latents: ref.noisy_latents!, target: ref.target!,
    });
    fs.writeFileSync(path.join(dir, "in.safetensors"), inputs);
    const outFile = path.join(dir, "out.safetensors");
    const cacheDir = path.join(dir, "cache");
    const { code } = await run(["ti-grad", "--model", MODEL, "--inputs", path.join(dir, "in.safetensors"), "--out", outFile, "--threads", "1", "--cache-dir", cacheDir]);
    expect(code).toBe(0);
    const out = decodeSafetensors(fs.readFileSync(outFile)).tensors;
    const expectedLoss = (ref.expected_loss!.data as Float64Array)[0]!;
    expect(Math.abs((out.loss!.data as Float32Array)[0]! - expectedLoss) / expectedLoss).toBeLessThan(1e-5);
    expect(out.grad!.shape).toEqual([2, 48]);
    const g = out.grad!.data as Float32Array, e = ref.expected_grad!.data as Float64Array;
    const err = Math.sqrt(e.reduce((s, v, i) => s + (g[i]! - v) ** 2, 0) / e.reduce((s, v) => s + v * v, 0));
    expect(err).toBeLessThan(1e-4);
    // The compiled graphs were cached; a second run reuses them and gives the same bytes.
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith(".onnx"))).toHaveLength(2);
    const again = path.join(dir, "again.safetensors");
    expect((await run(["ti-grad", "--model", MODEL, "--inputs", path.join(dir, "in.safetensors"), "--out", again, "--threads", "1", "--cache-dir", cacheDir])).code).toBe(0);
    expect(fs.readFileSync(again).equals(fs.readFileSync(outFile))).toBe(true);
  });

  it("exits 2 with a usage message when a flag is missing", async () => {
    const { code, stderr } = await run(["ti-grad", "--model", MODEL]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--inputs is required/);
  });

  it("exits 1 naming the problem when an id is outside vocabulary + concepts", async () => {
    const ref = decodeSafetensors(fs.readFileSync(REFERENCE)).tensors;
    const ids = BigInt64Array.from(ref.input_ids!.data as BigInt64Array);
    ids[5] = 10_000n;
    fs.writeFileSync(path.join(dir, "bad.safetensors"), encodeSafetensors({ ...ref, input_ids: { dtype: "I64", shape: ref.input_ids!.shape, data: ids } }));
    const { code, stderr } = await run(["ti-grad", "--model", MODEL, "--inputs", path.join(dir, "bad.safetensors"), "--out", path.join(dir, "x.safetensors"), "--no-cache"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/input_ids holds 10000: ids must be in \[0, 122\)/);
  });

  it("exits 1 with a clear message for a folder that is not an ONNX pipeline", async () => {
    fs.writeFileSync(path.join(dir, "in2.safetensors"), fs.readFileSync(REFERENCE));
    const { code, stderr } = await run(["ti-grad", "--model", dir, "--inputs", path.join(dir, "in2.safetensors"), "--out", path.join(dir, "y.safetensors"), "--no-cache"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/text_encoder\/model\.onnx not found: expected a Stable Diffusion pipeline in the Optimum ONNX layout/);
  });
});
