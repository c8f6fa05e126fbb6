/**
 * AUTOMATIC1111's `.pt` embedding as torch.save (torch >= 1.6) writes it, as bytes.
 *
 * Container: a ZIP of stored entries `<archive>/data.pkl` (protocol-2 pickle),
 * `<archive>/data/<key>` (raw little-endian storage bytes) and `<archive>/version` ("3").
 * Pickle: A1111's `Embedding.save` dict {"string_to_token": {"*": 265}, "string_to_param":
 * {"*": tensor [k, H]}, "name", "step", "sd_checkpoint", "sd_checkpoint_name"}; each tensor
 * is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * OrderedDict())` whose storage is a persistent id ("storage", torch.FloatStorage, key,
 * "cpu", numel).
 *
 * Reading never executes the pickle: only the globals below are known (tensor rebuilds,
 * OrderedDict, float storages, widened to F32); any other is refused by name.
 */
import { PickleError, PickleWriter, unpickle } from "../../core/io/pickle.js";
import { decodeStoredZip, encodeStoredZip, ZipError } from "../../core/io/zip-stored.js";
import { widenBF16, widenF16 } from "./half.js";

export class TorchPtError extends Error {
  override name = "TorchPtError";
}

/** A tensor read from a .pt file, widened to float32, row-major. */
export interface PtTensor {
  readonly kind: "tensor";
  storage: string;
  shape: number[];
  data: Float32Array;
}

interface StorageType {
  readonly kind: "storage-type";
  readonly name: string;
  readonly bytesPerElement: number;
  toFloat32(bytes: Uint8Array): Float32Array;
}

function storageType(name: string, bytesPerElement: number, toFloat32: (aligned: ArrayBuffer) => Float32Array): StorageType {
  // Copy into a fresh buffer: entries inside the archive are not aligned for typed arrays.
  return { kind: "storage-type", name, bytesPerElement, toFloat32: (bytes) => toFloat32(new Uint8Array(bytes).buffer) };
}

const STORAGE_TYPES: StorageType[] = [
  storageType("FloatStorage", 4, (b) => new Float32Array(b)),
  storageType("HalfStorage", 2, (b) => widenF16(new Uint16Array(b))),
  storageType("BFloat16Storage", 2, (b) => widenBF16(new Uint16Array(b))),
  storageType("DoubleStorage", 8, (b) => Float32Array.from(new Float64Array(b))),
];

interface Storage {
  type: StorageType;
  values: Float32Array;
}

function isStorage(x: unknown): x is Storage {
  return typeof x === "object" && x !== null && "values" in x && "type" in x;
}

function intTuple(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new TorchPtError(`tensor ${what} is not a tuple of non-negative integers`);
  return x as number[];
}

/** torch._utils._rebuild_tensor_v2: a (possibly strided) view of a storage, copied out contiguous. */
function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown): PtTensor {
  if (!isStorage(storage)) throw new TorchPtError("tensor is not built on a storage");
  const shape = intTuple(size, "size");
  const strides = intTuple(stride, "stride");
  if (!Number.isSafeInteger(offset) || (offset as number) < 0 || strides.length !== shape.length) throw new TorchPtError("tensor offset or stride is malformed");
  const count = shape.reduce((a, b) => a * b, 1);
  // A broadcast (stride-0) view could ask for far more values than the file holds; no embedding is one.
  if (count > storage.values.length) throw new TorchPtError(`tensor of shape [${shape}] has more elements than its storage (${storage.values.length})`);
  const data = new Float32Array(count);
  if (count > 0) {
    const last = shape.reduce((end, d, i) => end + (d - 1) * strides[i]!, offset as number);
    if (last >= storage.values.length) throw new TorchPtError(`tensor of shape [${shape}] reaches past its storage (${storage.values.length} elements)`);
    const index = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let at = offset as number;
      for (let d = 0; d < shape.length; d++) at += index[d]! * strides[d]!;
      data[i] = storage.values[at]!;
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++index[d]! < shape[d]!) break;
        index[d] = 0;
      }
    }
  }
  return { kind: "tensor", storage: storage.type.name, shape, data };
}

const GLOBALS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ["collections.OrderedDict", () => new Map()],
  ["torch._utils._rebuild_tensor_v2", rebuildTensor],
  ["torch._utils._rebuild_parameter", (data: unknown) => data],
  ...STORAGE_TYPES.map((t) => [`torch.${t.name}`, t] as const),
]);

export function isPtTensor(x: unknown): x is PtTensor {
  return typeof x === "object" && x !== null && (x as PtTensor).kind === "tensor";
}

/** Reads a torch.save archive into plain values (Map, arrays, PtTensor), executing nothing. */
export function readTorchPt(bytes: Uint8Array): unknown {
  if (bytes[0] === 0x80 && bytes[1] === 0x02) {
    throw new TorchPtError("this is torch's legacy (pre-1.6, non-ZIP) format, which is not read here; re-save it with a current torch or convert it to .safetensors");
  }
  let entries: Map<string, Uint8Array>;
  try {
    entries = decodeStoredZip(bytes);
  } catch (error) {
    if (error instanceof ZipError) throw new TorchPtError(`not a torch.save archive: ${error.message}`);
    throw error;
  }
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) throw new TorchPtError(`not a torch.save archive: expected one <archive>/data.pkl, found ${pickles.length}`);
  const prefix = pickles[0]!.slice(0, -"data.pkl".length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== "little") throw new TorchPtError("big-endian torch archives are not supported");

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== 5) throw new TorchPtError("unknown persistent id in the pickle (expected a storage)");
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (typeof type !== "object" || type === null || (type as StorageType).kind !== "storage-type") throw new TorchPtError("storage of an unknown type");
    if (typeof key !== "string" || !Number.isSafeInteger(numel)) throw new TorchPtError("storage id is malformed");
    const known = storages.get(key);
    if (known) return known;
    const raw = entries.get(`${prefix}data/${key}`);
    if (!raw) throw new TorchPtError(`storage '${key}' is missing from the archive`);
    const t = type as StorageType;
    if (raw.length !== (numel as number) * t.bytesPerElement) {
      throw new TorchPtError(`storage '${key}' holds ${raw.length} bytes, ${numel} elements of ${t.name} need ${(numel as number) * t.bytesPerElement}`);
    }
    const storage = { type: t, values: t.toFloat32(raw) };
    storages.set(key, storage);
    return storage;
  };
  try {
    return unpickle(entries.get(pickles[0]!)!, { globals: GLOBALS, persistentLoad });
  } catch (error) {
    if (error instanceof PickleError) throw new TorchPtError(error.message);
    throw error;
  }
}

export interface A1111PtEmbedding {
  name: string;
  step: number | null;
  /** [k, H] */
  shape: [number, number];
  vectors: Float32Array;
}

/**
 * torch.save of A1111's Embedding.save dict, F32 tensor [k, H] on storage "0". Byte-reproducible.
 * No `byteorder` entry (torch >= 2.1 adds one): A1111's safe loader (modules/safe.py) refuses
 * any entry but data.pkl, data/<n> and version, and uses only the globals written here.
 */
export function encodeA1111Pt(e: A1111PtEmbedding): Uint8Array {
  const [k, h] = e.shape;
  if (e.vectors.length !== k * h) throw new TorchPtError(`[${k}, ${h}] needs ${k * h} values, got ${e.vectors.length}`);
  const p = new PickleWriter().emptyDict().mark();
  p.string("string_to_token").emptyDict().string("*").int(265).setItem();
  p.string("string_to_param").emptyDict().string("*");
  p.global("torch._utils", "_rebuild_tensor_v2").mark();
  p.mark().string("storage").global("torch", "FloatStorage").string("0").string("cpu").int(k * h).tuple().persistentId();
  p.int(0).mark().int(k).int(h).tuple().mark().int(h).int(1).tuple().bool(false);
  p.global("collections", "OrderedDict").emptyTuple().reduce();
  p.tuple().reduce().setItem();
  p.string("name").string(e.name);
  p.string("step");
  if (e.step === null) p.none();
  else p.int(e.step);
  p.string("sd_checkpoint").none().string("sd_checkpoint_name").none();
  p.setItems();
  const data = new Uint8Array(e.vectors.buffer, e.vectors.byteOffset, e.vectors.byteLength);
  return encodeStoredZip([
    { name: "archive/data.pkl", data: p.finish() },
    { name: "archive/data/0", data },
    { name: "archive/version", data: new TextEncoder().encode("3\n") },
  ]);
}
