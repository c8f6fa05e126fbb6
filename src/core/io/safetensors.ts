/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}, then the raw little-endian tensor bytes. Pure bytes in, bytes out.
 */

/** BF16 and F16 are kept as raw 16-bit words (Uint16Array); callers widen them. */
export type SafetensorsDtype = "F32" | "F64" | "F16" | "BF16" | "I32" | "I64" | "U8" | "I8" | "BOOL";

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

export interface Tensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, I8: 1, BOOL: 1 };

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function typedArrayFor(dtype: SafetensorsDtype, bytes: Uint8Array): TensorData {
  // Copy into a fresh, aligned buffer: slices of a file are rarely 8-byte aligned.
  // (Not bytes.slice(): on a Node Buffer that is a view whose .buffer is the whole file.)
  const copy = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(copy);
    case "F64":
      return new Float64Array(copy);
    case "F16":
    case "BF16":
      return new Uint16Array(copy);
    case "I32":
      return new Int32Array(copy);
    case "I64":
      return new BigInt64Array(copy);
    case "I8":
      return new Int8Array(copy);
    case "U8":
    case "BOOL":
      return new Uint8Array(copy);
  }
}

function checkHostIsLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new SafetensorsError("big-endian hosts are not supported");
  }
}

/** Serialises tensors (sorted by name, like the reference implementation) with string metadata. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  checkHostIsLittleEndian();
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = t.data.byteLength;
    const expected = elementCount(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    if (bytes !== expected) {
      throw new SafetensorsError(`tensor '${name}': shape [${t.shape}] of ${t.dtype} needs ${expected} bytes, data has ${bytes}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces to 8 bytes so tensor data starts aligned.
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad > 0) {
    json += " ".repeat(pad);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), cursor);
    cursor += d.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Parses a safetensors file, validating every offset; throws SafetensorsError on any inconsistency. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  checkHostIsLittleEndian();
  if (bytes.length < 8) throw new SafetensorsError(`file too short (${bytes.length} bytes)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsError(`header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw new SafetensorsError(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError("header is not a JSON object");
  }
  const dataLength = bytes.length - dataStart;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Object.values(entry).some((v) => typeof v !== "string")) {
        throw new SafetensorsError("__metadata__ must map strings to strings");
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e.dtype as SafetensorsDtype;
    if (typeof dtype !== "string" || !(dtype in BYTES_PER_ELEMENT)) {
      throw new SafetensorsError(`tensor '${name}': unsupported dtype ${JSON.stringify(e.dtype)}`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor '${name}': invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`tensor '${name}': invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > dataLength) {
      throw new SafetensorsError(`tensor '${name}': data_offsets [${begin}, ${end}] outside the data (${dataLength} bytes)`);
    }
    if (end - begin !== elementCount(shape) * BYTES_PER_ELEMENT[dtype]) {
      throw new SafetensorsError(`tensor '${name}': ${end - begin} bytes do not hold shape [${shape}] of ${dtype}`);
    }
    ranges.push([begin, end, name]);
    tensors[name] = { dtype, shape: shape as number[], data: typedArrayFor(dtype, bytes.subarray(dataStart + begin, dataStart + end)) };
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) {
      throw new SafetensorsError(`tensors '${ranges[i - 1]![2]}' and '${ranges[i]![2]}' overlap`);
    }
  }
  return { tensors, metadata };
}
