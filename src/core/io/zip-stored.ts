/**
 * ZIP archives of stored (uncompressed) entries, the container torch.save has used since
 * torch 1.6. Writing: local headers carrying CRC-32 and sizes, an extra field that pads
 * each entry's data to 64 bytes (as torch does, so readers may map tensors in place),
 * a central directory and its end record. Reading: through the central directory (torch
 * puts sizes in data descriptors, not in local headers), every CRC checked. No ZIP64:
 * archives over 4 GiB or 65,535 entries are refused, far beyond an embedding.
 */

export class ZipError extends Error {
  override name = "ZipError";
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, the ZIP and PNG checksum). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LOCAL_SIGNATURE = 0x04034b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
const ALIGNMENT = 64;
const PAD_FIELD_ID = 0x4246; // "FB", the id torch's writer uses for its padding field

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

/** An archive of stored entries, in the given order, with fixed timestamps (byte-reproducible). */
export function encodeStoredZip(entries: readonly ZipEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const crc = crc32(entry.data);
    const unpadded = offset + LOCAL_HEADER + name.length;
    // The padding field needs 4 bytes of header; add a whole block when less is left.
    let pad = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
    if (pad > 0 && pad < 4) pad += ALIGNMENT;
    const local = new Uint8Array(LOCAL_HEADER + name.length + pad);
    const view = new DataView(local.buffer);
    view.setUint32(0, LOCAL_SIGNATURE, true);
    view.setUint16(4, 20, true); // version needed: 2.0
    view.setUint16(6, 0x0800, true); // names are UTF-8
    view.setUint16(8, 0, true); // stored
    view.setUint16(12, 0x21, true); // 1980-01-01, the earliest DOS date
    view.setUint32(14, crc, true);
    view.setUint32(18, entry.data.length, true);
    view.setUint32(22, entry.data.length, true);
    view.setUint16(26, name.length, true);
    view.setUint16(28, pad, true);
    local.set(name, LOCAL_HEADER);
    if (pad > 0) {
      view.setUint16(LOCAL_HEADER + name.length, PAD_FIELD_ID, true);
      view.setUint16(LOCAL_HEADER + name.length + 2, pad - 4, true);
      local.fill(0x5a, LOCAL_HEADER + name.length + 4); // "Z", as torch fills it
    }
    const record = new Uint8Array(CENTRAL_HEADER + name.length);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, CENTRAL_SIGNATURE, true);
    rv.setUint16(4, 20, true);
    rv.setUint16(6, 20, true);
    rv.setUint16(8, 0x0800, true);
    rv.setUint16(14, 0x21, true);
    rv.setUint32(16, crc, true);
    rv.setUint32(20, entry.data.length, true);
    rv.setUint32(24, entry.data.length, true);
    rv.setUint16(28, name.length, true);
    rv.setUint32(42, offset, true);
    record.set(name, CENTRAL_HEADER);
    parts.push(local, entry.data);
    central.push(record);
    offset += local.length + entry.data.length;
  }
  const centralSize = central.reduce((n, r) => n + r.length, 0);
  if (entries.length > 0xffff || offset + centralSize > 0xffffffff) throw new ZipError("archive too large for ZIP without ZIP64");
  const end = new Uint8Array(END_RECORD);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, END_SIGNATURE, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + centralSize + END_RECORD);
  let cursor = 0;
  for (const part of [...parts, ...central, end]) {
    out.set(part, cursor);
    cursor += part.length;
  }
  return out;
}

/** The entries of an archive by name; refuses compressed entries, bad offsets and CRC mismatches. */
export function decodeStoredZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let endAt = -1;
  // The end record sits in the last 22 + 65,535 (comment) bytes.
  for (let i = bytes.length - END_RECORD; i >= Math.max(0, bytes.length - END_RECORD - 0xffff); i--) {
    if (view.getUint32(i, true) === END_SIGNATURE) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw new ZipError("not a ZIP archive (no end-of-central-directory record; truncated?)");
  const count = view.getUint16(endAt + 10, true);
  const centralSize = view.getUint32(endAt + 12, true);
  const centralOffset = view.getUint32(endAt + 16, true);
  if (count === 0xffff || centralOffset === 0xffffffff) throw new ZipError("ZIP64 archives are not supported");
  if (centralOffset + centralSize > endAt) throw new ZipError("central directory lies outside the archive (truncated?)");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries = new Map<string, Uint8Array>();
  let at = centralOffset;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER > endAt || view.getUint32(at, true) !== CENTRAL_SIGNATURE) throw new ZipError(`central directory entry ${i} is damaged`);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    const name = decoder.decode(bytes.subarray(at + CENTRAL_HEADER, at + CENTRAL_HEADER + nameLength));
    at += CENTRAL_HEADER + nameLength + extraLength + commentLength;
    if (flags & 0x1) throw new ZipError(`entry '${name}' is encrypted`);
    if (method !== 0) throw new ZipError(`entry '${name}' is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (compressedSize !== size || size === 0xffffffff) throw new ZipError(`entry '${name}' has inconsistent or ZIP64 sizes`);
    if (localOffset + LOCAL_HEADER > centralOffset || view.getUint32(localOffset, true) !== LOCAL_SIGNATURE) {
      throw new ZipError(`entry '${name}': no local header at offset ${localOffset}`);
    }
    const dataStart = localOffset + LOCAL_HEADER + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (dataStart + size > centralOffset) throw new ZipError(`entry '${name}' runs past the end of the data (truncated?)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    if (crc32(data) !== crc) throw new ZipError(`entry '${name}' fails its CRC-32 check (damaged file)`);
    if (entries.has(name)) throw new ZipError(`entry '${name}' appears twice`);
    entries.set(name, data);
  }
  return entries;
}
