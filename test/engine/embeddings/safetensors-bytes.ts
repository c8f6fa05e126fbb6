/**
 * An independent minimal safetensors builder/parser for tests, written from the format
 * description (u64 LE header length, JSON header, raw LE data), sharing no code with
 * src/core/io/safetensors.ts, so that files written there are checked byte for byte.
 */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function buildSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let cursor = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, cursor);
    cursor += t.bytes.length;
  }
  return out;
}

export interface ParsedSafetensors {
  headerText: string;
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Uint8Array;
}

export function parseSafetensors(file: Uint8Array): ParsedSafetensors {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  const headerText = new TextDecoder().decode(file.subarray(8, 8 + length));
  return { headerText, header: JSON.parse(headerText), data: file.subarray(8 + length) };
}

export function f32Bytes(values: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return new Uint8Array(view.buffer);
}

export function u16Bytes(words: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(words.length * 2));
  words.forEach((w, i) => view.setUint16(i * 2, w, true));
  return new Uint8Array(view.buffer);
}
