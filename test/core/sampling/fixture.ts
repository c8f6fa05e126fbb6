import { readFileSync } from "node:fs";
import { decodeSafetensors } from "../../../src/core/io/safetensors.js";

/** test/fixtures/samplers.safetensors, written by tools/reference/samplers.py (torch 1.13 restating diffusers). */
export const fixture = decodeSafetensors(readFileSync(new URL("../../fixtures/samplers.safetensors", import.meta.url)));

export interface TrajectoryCase {
  config: Record<string, unknown>;
  sampler: "ddim" | "euler" | "euler-ancestral" | "pndm";
  steps: number;
  eta: number;
  guidance: number;
}

export interface TimestepListSpec {
  config: Record<string, unknown> & { num_train_timesteps: number; timestep_spacing: string };
  steps: number[];
}

export const trajectoryCases = JSON.parse(fixture.metadata.cases!) as Record<string, TrajectoryCase>;
export const timestepLists = JSON.parse(fixture.metadata.timestep_lists!) as Record<string, TimestepListSpec>;

export function tensor(name: string): Float32Array {
  const t = fixture.tensors[name];
  if (t === undefined || !(t.data instanceof Float32Array)) throw new Error(`fixture has no float32 tensor ${name}`);
  return t.data;
}

export function numbers(name: string): number[] {
  const t = fixture.tensors[name];
  if (t === undefined) throw new Error(`fixture has no tensor ${name}`);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Row r of a [R, ...] float32 tensor. */
export function row(name: string, r: number): Float32Array {
  const t = fixture.tensors[name]!;
  const size = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return (t.data as Float32Array).subarray(r * size, (r + 1) * size);
}
