import { describe, expect, it } from "vitest";
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointErrorCode,
} from "../../../src/core/checkpoint/index.js";
import { decodeSafetensors, encodeSafetensors } from "../../../src/core/io/safetensors.js";
import { sha256Hex } from "../../../src/core/io/sha256.js";
import { configHash, createInitialState, runSlice, type InversionState } from "../../../src/core/inversion/index.js";
import { createSyntheticObjective } from "../../../src/core/synthetic/objective.js";

async function stateAfter(steps: number, seed = 3, extra: object = {}): Promise<InversionState> {
  const objective = createSyntheticObjective(seed, { dim: 8 });
  const initial = createInitialState(
    { seed, stop: { name: "dvar", window: 5, threshold: 0.01, every: 2 }, objective: { kind: "synthetic", dim: 8 }, ldetEvery: 4, ...extra },
    objective.initialParams(),
  );
  let t = 0;
  return (await runSlice(initial, { objective, budget: { maxSteps: steps }, clock: () => (t += 0.25) })).state;
}

function expectRefused(bytes: Uint8Array, code?: CheckpointErrorCode, options = {}) {
  let error: unknown;
  try {
    decodeCheckpoint(bytes, options);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  if (code) expect((error as CheckpointError).code).toBe(code);
  return error as CheckpointError;
}

/** Rewrites a checkpoint's metadata and seals it again with a valid checksum (the documented rule). */
function reseal(bytes: Uint8Array, edit: (meta: Record<string, string>, tensors: ReturnType<typeof decodeSafetensors>["tensors"]) => void) {
  const { tensors, metadata } = decodeSafetensors(bytes);
  edit(metadata, tensors);
  const { checksum: _old, ...rest } = metadata;
  const sorted = (m: Record<string, string>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));
  const checksum = sha256Hex(encodeSafetensors(tensors, sorted(rest)));
  return encodeSafetensors(tensors, sorted({ ...rest, checksum }));
}

describe("checkpoint codec", () => {
  it("round-trips the whole state bit-exactly (params, optimizer, criterion, best, histories with NaN)", async () => {
    const state = await stateAfter(12);
    const bytes = encodeCheckpoint(state);
    const back = decodeCheckpoint(bytes, { expectedConfigHash: configHash(state.config) });
    expect(back.step).toBe(12);
    expect(back.config).toEqual(state.config);
    expect(Array.from(back.params)).toEqual(Array.from(state.params));
    expect(back.optimizer.name).toBe("adamw");
    expect(back.optimizer.state.step).toBe(12);
    for (const [name, buffer] of Object.entries(state.optimizer.state.buffers)) {
      expect(Array.from(back.optimizer.state.buffers[name]!)).toEqual(Array.from(buffer));
    }
    expect(back.criterion).toEqual(state.criterion);
    expect(back.best!.step).toBe(state.best!.step);
    expect(back.best!.ldet).toBe(state.best!.ldet);
    expect(Array.from(back.best!.params)).toEqual(Array.from(state.best!.params));
    expect(back.history.ldet.filter(Number.isNaN).length).toBe(6); // computed on even steps only (DVAR every 2)
    for (const [key, series] of Object.entries(state.history)) {
      (series as number[]).forEach((v, i) => expect(Object.is(back.history[key as keyof typeof back.history][i], v)).toBe(true));
    }
    expect(back.finished).toBeNull();
    // Encoding is deterministic: the decoded state writes the very same bytes.
    expect(encodeCheckpoint(back)).toEqual(bytes);
    // The metadata says what the file is.
    const { metadata } = decodeSafetensors(bytes);
    expect(metadata.format).toBe(CHECKPOINT_FORMAT);
    expect(metadata.config_hash).toBe(configHash(state.config));
    expect(JSON.parse(metadata.state!).seed).toBe(3);
  });

  it("round-trips a fresh and a finished state", async () => {
    const fresh = await stateAfter(0);
    expect(decodeCheckpoint(encodeCheckpoint(fresh)).best).toBeNull();
    const done = await stateAfter(50, 3, { maxSteps: 9 });
    expect(done.finished).toEqual({ kind: "max_steps", step: 9 });
    expect(decodeCheckpoint(encodeCheckpoint(done)).finished).toEqual(done.finished);
  });

  it("refuses every truncation", async () => {
    const bytes = encodeCheckpoint(await stateAfter(6));
    for (let length = 0; length < bytes.length; length += 7) expectRefused(bytes.subarray(0, length), "malformed");
    expectRefused(bytes.subarray(0, bytes.length - 1), "malformed");
  });

  it("refuses a checkpoint with any single byte corrupted, or bytes appended", async () => {
    const bytes = encodeCheckpoint(await stateAfter(4));
    const codes = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      const corrupted = bytes.slice();
      corrupted[i]! ^= 0x04;
      codes.add(expectRefused(corrupted).code);
    }
    expect(codes.has("checksum")).toBe(true); // tensor data and metadata edits
    expect(codes.has("malformed")).toBe(true); // header length, JSON syntax
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expectRefused(longer, "malformed");
  });

  it("refuses another format version, another or tampered config, and inconsistent state", async () => {
    const state = await stateAfter(5);
    const bytes = encodeCheckpoint(state);
    expectRefused(reseal(bytes, (m) => (m.format_version = "2")), "version");
    expectRefused(reseal(bytes, (m) => (m.format = "something-else")), "not_checkpoint");
    expectRefused(encodeSafetensors({ x: { dtype: "F32", shape: [1], data: new Float32Array(1) } }), "not_checkpoint");
    const other = configHash({ ...state.config, seed: 4 });
    const mismatch = expectRefused(bytes, "config_mismatch", { expectedConfigHash: other });
    expect(mismatch.message).toContain(other);
    expectRefused(reseal(bytes, (m) => (m.config = m.config!.replace('"learningRate":0.005', '"learningRate":0.05'))), "config_hash");
    expectRefused(reseal(bytes, (m) => (m.config = "{}")), "invalid_state");
    expectRefused(
      reseal(bytes, (_m, t) => {
        t["history.ldet"] = { dtype: "F64", shape: [4], data: new Float64Array(4) };
      }),
      "invalid_state",
    );
    expectRefused(
      reseal(bytes, (_m, t) => {
        delete t["optimizer.exp_avg_sq"];
      }),
      "invalid_state",
    );
    expectRefused(
      reseal(bytes, (m) => (m.state = m.state!.replace('"window":[', '"window":[1,'))),
      "invalid_state",
    );
    // The resealed original is accepted: the refusals above are about the edits, not the resealing.
    expect(decodeCheckpoint(reseal(bytes, () => {})).step).toBe(5);
  });
});
