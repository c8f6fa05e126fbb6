/** Loads test/fixtures/optim_trajectories.safetensors (written by tools/reference/optim_trajectories.py). */
import { readFileSync } from "node:fs";
import { decodeSafetensors, type Tensor } from "../../../src/core/io/safetensors.js";

export interface TorchRun {
  config: Record<string, number | string>;
  steps: number;
  size: number;
  /** Row `r` of a [rows, size] float32 tensor named `<run>/<key>`. */
  row(key: string, r: number): Float32Array;
  /** Steps after which the optimizer buffers were recorded. */
  stateSteps: number[];
}

const fixture = decodeSafetensors(readFileSync(new URL("../../fixtures/optim_trajectories.safetensors", import.meta.url)));
const configs = JSON.parse(fixture.metadata.runs!) as Record<string, Record<string, number | string>>;

export const torchInfo = { torch: fixture.metadata.torch, cpuCapability: fixture.metadata.cpu_capability };

export function torchRun(name: string): TorchRun {
  const tensor = (key: string): Tensor => {
    const t = fixture.tensors[`${name}/${key}`];
    if (!t) throw new Error(`fixture has no tensor ${name}/${key}`);
    return t;
  };
  const params = tensor("params");
  const size = params.shape[1]!;
  return {
    config: configs[name]!,
    steps: params.shape[0]! - 1,
    size,
    row(key, r) {
      const t = tensor(key);
      if (r < 0 || r >= t.shape[0]!) throw new Error(`${name}/${key} has no row ${r}`);
      return (t.data as Float32Array).slice(r * size, (r + 1) * size);
    },
    stateSteps: Array.from(tensor("state_steps").data as Int32Array),
  };
}

export function lossAt(run: string, step: number): number {
  return (fixture.tensors[`${run}/loss`]!.data as Float32Array)[step]!;
}
