import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../../src/core/io/safetensors.js";

describe("safetensors codec", () => {
  const tensors = {
    "<cat-toy>": { dtype: "F32" as const, shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -0.5]) },
    ids: { dtype: "I64" as const, shape: [3], data: new BigInt64Array([1n, 49407n, -2n]) },
    f64: { dtype: "F64" as const, shape: [], data: new Float64Array([Math.PI]) },
  };

  it("decodes from a Node Buffer that is a view into a larger allocation", () => {
    const encoded = encodeSafetensors(tensors);
    const pool = Buffer.alloc(encoded.length + 64, 7);
    pool.set(encoded, 32);
    const view = pool.subarray(32, 32 + encoded.length);
    const back = decodeSafetensors(view).tensors;
    expect(Array.from(back["<cat-toy>"]!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, -0.5]);
  });

  it("round-trips tensors and metadata", () => {
    const bytes = encodeSafetensors(tensors, { format: "pt" });
    const { tensors: back, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: "pt" });
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back[name]!.dtype).toBe(t.dtype);
      expect(back[name]!.shape).toEqual(t.shape);
      expect(Array.from(back[name]!.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });

  it("decodes from a Node Buffer (what readFileSync returns) as from a Uint8Array", () => {
    const bytes = encodeSafetensors(tensors, { format: "pt" });
    const pooled = Buffer.concat([Buffer.from("padding"), Buffer.from(bytes)]).subarray(7);
    const { tensors: back } = decodeSafetensors(pooled);
    expect(back["<cat-toy>"]!.data).toEqual(tensors["<cat-toy>"].data);
    expect(back.ids!.data).toEqual(tensors.ids.data);
  });

  it("writes the reference layout: u64 header length, 8-byte aligned JSON, sorted data", () => {
    const bytes = encodeSafetensors({ b: tensors.f64, a: { dtype: "F32", shape: [1], data: new Float32Array([7]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.a.data_offsets).toEqual([0, 4]);
    expect(header.b.data_offsets).toEqual([4, 12]);
    expect(new Float32Array(bytes.slice(8 + n, 12 + n).buffer)[0]).toBe(7);
  });

  it("refuses truncated and malformed files", () => {
    const bytes = encodeSafetensors(tensors);
    expect(() => decodeSafetensors(bytes.subarray(0, 5))).toThrow(SafetensorsError);
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 1))).toThrow(/outside the data/);
    const garbage = bytes.slice();
    garbage[8] = 0x5b; // "[" instead of "{": the header is no longer valid JSON
    expect(() => decodeSafetensors(garbage)).toThrow(SafetensorsError);
    expect(() => encodeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(/needs 12 bytes/);
  });
});
