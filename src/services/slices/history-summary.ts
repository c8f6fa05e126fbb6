/**
 * The loss histories a job's detail view shows, stored beside each checkpoint so that
 * GET /v1/inversions/{id} need not decode the checkpoint: `jobs/<id>/histories/<checkpoint name>`,
 * a safetensors file with the three columns the view draws (training loss, L_det, the stopping
 * rule's criterion; F64, one value per completed update) and, as metadata, the config hash and
 * step of the checkpoint it summarizes.
 *
 * Decoding a checkpoint checks a SHA-256 of the whole file (plain TypeScript), re-encodes it twice
 * and parses and hashes the config, for state the view never shows (parameters, optimizer
 * moments, best parameters, three more history columns). Reading this file is a header parse and
 * three array copies of half the history bytes.
 *
 * A slice writes it right after its checkpoint (create-only, under the attempt's key, discarded
 * with the checkpoint by a losing attempt, deleted with it once replaced). It is a display aid,
 * best-effort: a reader that finds it missing (jobs from before it existed, a failed write),
 * malformed, or not matching the record decodes the checkpoint instead.
 */
import { decodeSafetensors, encodeSafetensors, type Tensor } from "../../core/io/safetensors.js";
import type { InversionHistory, InversionState } from "../../core/inversion/state.js";
import { configHash } from "../../core/inversion/config.js";
import type { Store } from "../../ports/store/index.js";

export type HistoryColumns = Pick<InversionHistory, "trainLoss" | "ldet" | "criterion">;

const FORMAT = "dvar-history-summary";
const VERSION = "1";
const COLUMNS = ["trainLoss", "ldet", "criterion"] as const;
const CHECKPOINT_KEY = /^(jobs\/[^/]+\/)checkpoints\/([^/]+)$/;

/** The summary's key for a checkpoint key (`jobs/<id>/checkpoints/<name>`); undefined for any other key. */
export function historySummaryKey(checkpointKey: string): string | undefined {
  const match = CHECKPOINT_KEY.exec(checkpointKey);
  return match ? `${match[1]}histories/${match[2]}` : undefined;
}

export function encodeHistorySummary(state: InversionState): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const column of COLUMNS) tensors[column] = { dtype: "F64", shape: [state.history[column].length], data: Float64Array.from(state.history[column]) };
  return encodeSafetensors(tensors, { format: FORMAT, format_version: VERSION, config_hash: configHash(state.config), step: String(state.step) });
}

/** The columns, or undefined when the bytes are not a summary of a checkpoint at `step` of the config `configHash`. */
export function decodeHistorySummary(bytes: Uint8Array, expected: { readonly configHash: string; readonly step: number }): HistoryColumns | undefined {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch {
    return undefined;
  }
  const { tensors, metadata } = decoded;
  if (metadata.format !== FORMAT || metadata.format_version !== VERSION || metadata.config_hash !== expected.configHash || metadata.step !== String(expected.step)) return undefined;
  const columns = {} as HistoryColumns;
  for (const column of COLUMNS) {
    const t = tensors[column];
    if (!t || t.dtype !== "F64" || t.shape.length !== 1 || t.shape[0] !== expected.step) return undefined;
    columns[column] = Array.from(t.data as Float64Array);
  }
  return columns;
}

/** Writes the summary `key` of a checkpoint of `state`; a failure is ignored (readers then decode the checkpoint). */
export async function writeHistorySummary(store: Store, key: string, state: InversionState): Promise<void> {
  try {
    await store.put(key, encodeHistorySummary(state), { ifNoneMatch: "*", contentType: "application/octet-stream" });
  } catch {
    // Best-effort: the checkpoint holds the same histories.
  }
}

/** The summary of the record's checkpoint, or undefined (none, unreadable, or another checkpoint's). */
export async function readHistorySummary(store: Store, checkpointKey: string, expected: { readonly configHash: string; readonly step: number }): Promise<HistoryColumns | undefined> {
  const key = historySummaryKey(checkpointKey);
  const found = key === undefined ? undefined : await store.get(key);
  return found && decodeHistorySummary(found.body, expected);
}
