/**
 * Reads an .onnx file without reading its inline weights.
 *
 * A protobuf message can only be decoded whole, and an SD text encoder exported without
 * external data carries ~490 MB of weights in `raw_data` fields. So the file is scanned
 * with positional reads: every field is copied into a skeleton message except the
 * `raw_data` of graph initializers at least `inlineLimit` long, which are skipped and
 * replaced by ONNX external-data entries pointing at their own bytes in this same file
 * (location = the file's name, offset, length). The skeleton then decodes normally.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeModel } from "./codec.js";
import { OnnxModelError, type Model } from "./ir.js";

const BLOCK = 1 << 16;

/** Random-access reads with a one-block cache; counts the bytes actually read. */
class PositionalReader {
  readonly size: number;
  bytesRead = 0;
  private blockStart = -1;
  private block: Buffer = Buffer.alloc(0);

  constructor(private readonly fd: number) {
    this.size = fs.fstatSync(fd).size;
  }

  bytes(start: number, end: number): Buffer {
    if (end - start > BLOCK) return this.read(start, end - start);
    if (start < this.blockStart || end > this.blockStart + this.block.length) {
      this.blockStart = start;
      this.block = this.read(start, Math.min(BLOCK, this.size - start));
    }
    return this.block.subarray(start - this.blockStart, end - this.blockStart);
  }

  private read(position: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, out, done, length - done, position + done);
      if (n === 0) throw new OnnxModelError("unexpected end of file");
      done += n;
    }
    this.bytesRead += length;
    return out;
  }

  /** A varint at pos: [value, position after it]. */
  varint(pos: number): [number, number] {
    let value = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.bytes(pos + i, pos + i + 1)[0]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return [value, pos + i + 1];
    }
    throw new OnnxModelError(`bad varint at byte ${pos}`);
  }
}

function varintBytes(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function lengthDelimited(field: number, content: Buffer): Buffer {
  return Buffer.concat([varintBytes(field * 8 + 2), varintBytes(content.length), content]);
}

/** For a LEN field: new content, null to drop the field, or undefined to copy it as it is. */
type Rewrite = (field: number, start: number, end: number) => Buffer | null | undefined;

function rewriteMessage(r: PositionalReader, start: number, end: number, rewrite: Rewrite): Buffer {
  const parts: Buffer[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = r.varint(pos);
    const field = Math.floor(tag / 8), wire = tag % 8;
    let valueEnd: number;
    let valueStart = afterTag;
    if (wire === 0) valueEnd = r.varint(afterTag)[1];
    else if (wire === 1) valueEnd = afterTag + 8;
    else if (wire === 5) valueEnd = afterTag + 4;
    else if (wire === 2) {
      const [length, afterLength] = r.varint(afterTag);
      valueStart = afterLength;
      valueEnd = afterLength + length;
    } else throw new OnnxModelError(`unsupported protobuf wire type ${wire} at byte ${pos}`);
    if (valueEnd > end) throw new OnnxModelError(`truncated protobuf field at byte ${pos}`);
    const replaced = wire === 2 ? rewrite(field, valueStart, valueEnd) : undefined;
    if (replaced) parts.push(lengthDelimited(field, replaced));
    else if (replaced === undefined) parts.push(Buffer.from(r.bytes(pos, valueEnd)));
    pos = valueEnd;
  }
  return Buffer.concat(parts);
}

const MODEL_GRAPH = 7, GRAPH_INITIALIZER = 5, TENSOR_RAW_DATA = 9, TENSOR_EXTERNAL_DATA = 13, TENSOR_DATA_LOCATION = 14;

function entry(key: string, value: string): Buffer {
  return lengthDelimited(TENSOR_EXTERNAL_DATA, Buffer.concat([lengthDelimited(1, Buffer.from(key)), lengthDelimited(2, Buffer.from(value))]));
}

export function readModelFile(file: string, inlineLimit = 1024): Model {
  const absolute = path.resolve(file);
  const fd = fs.openSync(absolute, "r");
  try {
    const r = new PositionalReader(fd);
    const tensor = (start: number, end: number): Buffer => {
      const external: Buffer[] = [];
      const body = rewriteMessage(r, start, end, (field, s, e) => {
        if (field !== TENSOR_RAW_DATA || e - s < inlineLimit) return undefined;
        external.push(entry("location", path.basename(absolute)), entry("offset", String(s)), entry("length", String(e - s)));
        return null;
      });
      return external.length === 0 ? body : Buffer.concat([body, Buffer.from([TENSOR_DATA_LOCATION * 8, 1]), ...external]);
    };
    const graph = (start: number, end: number) => rewriteMessage(r, start, end, (field, s, e) => (field === GRAPH_INITIALIZER ? tensor(s, e) : undefined));
    const skeleton = rewriteMessage(r, 0, r.size, (field, s, e) => (field === MODEL_GRAPH ? graph(s, e) : undefined));
    lastBytesRead = r.bytesRead;
    return decodeModel(skeleton, { sourcePath: absolute, inlineLimit });
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes read from disk by the last readModelFile call (for tests). */
export let lastBytesRead = 0;

