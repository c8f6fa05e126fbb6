/**
 * `npm run bench -- slice`: what a slice costs besides training, on the bundled model.
 *
 * 1. Checkpointing: a slice of `--steps` updates (the engine's runSlice, DVAR, from the state
 *    after `--from-step` updates) against writing its checkpoint and reading it back as the
 *    slice service does (encodeCheckpoint + Store.put create-only under a fresh key, then
 *    Store.get + decodeCheckpoint), on the filesystem Store (fsync on, the default) and the
 *    memory Store.
 * 2. Latents: a training step with the engine's cached VAE latents against diffusers' way,
 *    the VAE encoder run on the step's images every step (reencode.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCheckpoint, encodeCheckpoint } from "../core/checkpoint/index.js";
import { runSlice, type InversionState } from "../core/inversion/index.js";
import { FsStore, MemoryStore, type Store } from "../ports/store/index.js";
import { checkpointKey } from "../services/slices/artifacts.js";
import { modelFlags, openBundledJob } from "./bundled.js";
import { openReencodingStep } from "./reencode.js";
import { runsFlag, threadsFlag, warmupFlag, type FlagSpec, type FlagValues } from "./flags.js";
import { ms, percent, ratio, type BenchReport } from "./report.js";
import { medians, timeInterleaved, timeOnce } from "./timing.js";

export const sliceFlags: FlagSpec[] = [
  runsFlag(5),
  warmupFlag(1, 1),
  threadsFlag(2),
  { kind: "int", name: "steps", default: 50, min: 1, max: 6100, help: "updates per slice" },
  { kind: "int", name: "from-step", default: 400, min: 0, max: 6000, help: "updates run (once, untimed) before the measured slice, so the checkpoint holds a realistic history" },
  { kind: "int", name: "latent-steps", default: 20, min: 1, max: 10000, help: "training steps per timed repetition in the latents comparison" },
  ...modelFlags,
];

interface RoundTrip {
  encode: number;
  put: number;
  get: number;
  decode: number;
}

async function checkpointRoundTrip(store: Store, state: InversionState, key: string): Promise<RoundTrip> {
  let bytes!: Uint8Array;
  let body!: Uint8Array;
  const encode = await timeOnce(async () => (bytes = encodeCheckpoint(state)));
  const put = await timeOnce(() => store.put(key, bytes, { ifNoneMatch: "*", contentType: "application/octet-stream" }));
  const get = await timeOnce(async () => (body = (await store.get(key))!.body));
  let decoded!: InversionState;
  const decode = await timeOnce(async () => (decoded = decodeCheckpoint(body, {})));
  if (decoded.step !== state.step) throw new Error(`checkpoint round trip gave step ${decoded.step}, expected ${state.step}`);
  return { encode, put, get, decode };
}

const medianOf = (trips: RoundTrip[], k: keyof RoundTrip) => [...trips.map((t) => t[k])].sort((a, b) => a - b)[(trips.length - 1) >> 1]!;

export async function benchSlice(v: FlagValues): Promise<Omit<BenchReport, "command" | "environment">> {
  const runs = Number(v.runs), warmup = Number(v.warmup), threads = Number(v.threads), steps = Number(v.steps), fromStep = Number(v["from-step"]);
  const latentSteps = Number(v["latent-steps"]);
  const bundled = await openBundledJob(v, { maxSteps: 6100 });
  const storeDir = mkdtempSync(join(tmpdir(), "dvar-bench-store-"));
  try {
    const job = await bundled.open();
    const { objective } = job;
    const clock = () => performance.now();
    // The state the measured slice starts from (DVAR will not have stopped: N = 310 and alpha 0.15).
    let start = bundled.state;
    const prefixMs = fromStep === 0 ? 0 : await timeOnce(async () => (start = (await runSlice(bundled.state, { objective, budget: { maxSteps: fromStep }, clock })).state));

    // 1. Slice vs checkpoint write + read, interleaved per repetition.
    let end!: InversionState;
    const stores: Record<string, Store> = { fs: new FsStore({ root: storeDir }), memory: new MemoryStore() };
    const trips: Record<string, RoundTrip[]> = { fs: [], memory: [] };
    let attempt = 0;
    const sliceTimes = await timeInterleaved({ runs, warmup }, {
      slice: async () => (end = (await runSlice(start, { objective, budget: { maxSteps: steps }, clock })).state),
      checkpoint: async (run) => {
        for (const [name, store] of Object.entries(stores)) {
          const trip = await checkpointRoundTrip(store, end, checkpointKey("inv_bench", end.step, `attempt${attempt++}`));
          if (run >= 0) trips[name]!.push(trip);
        }
      },
    });
    const sliceMs = medians(sliceTimes.wall).slice;
    if (end.step !== start.step + steps) throw new Error(`the slice ran to step ${end.step}, expected ${start.step + steps} (did the run stop?)`);
    const checkpointBytes = encodeCheckpoint(end).length;
    const storeRows = Object.entries(trips).map(([name, t]) => {
      const write = medianOf(t, "encode") + medianOf(t, "put"), read = medianOf(t, "get") + medianOf(t, "decode");
      return { name, encode: medianOf(t, "encode"), put: medianOf(t, "put"), get: medianOf(t, "get"), decode: medianOf(t, "decode"), write, read, fraction: (write + read) / sliceMs };
    });

    // 2. Cached latents vs re-encoding every step: `latentSteps` training steps per repetition.
    const reencode = await openReencodingStep(job, { threads, cacheDir: bundled.cacheDir });
    const params = end.params;
    let cachedLoss = NaN, reencodedLoss = NaN;
    const latentTimes = await timeInterleaved({ runs, warmup }, {
      cached: async (run) => {
        for (let i = 0; i < latentSteps; i++) cachedLoss = (await objective.trainLossAndGradient(Math.max(run, 0) * latentSteps + i, params)).loss;
      },
      reencoded: async (run) => {
        for (let i = 0; i < latentSteps; i++) reencodedLoss = await reencode.run(Math.max(run, 0) * latentSteps + i, params);
      },
      vaeOnly: async (run) => {
        for (let i = 0; i < latentSteps; i++) await reencode.encode(Math.max(run, 0) * latentSteps + i);
      },
    });
    await reencode.close();
    const perStep = (t: Record<"cached" | "reencoded" | "vaeOnly", number[]>) => {
      const m = medians(t);
      return { cached: m.cached / latentSteps, reencoded: m.reencoded / latentSteps, vae: m.vaeOnly / latentSteps };
    };
    const wall = perStep(latentTimes.wall), cpu = perStep(latentTimes.cpu);
    const lossRelativeDifference = Math.abs(cachedLoss - reencodedLoss) / Math.abs(cachedLoss);

    const fs = storeRows.find((r) => r.name === "fs")!, memory = storeRows.find((r) => r.name === "memory")!;
    return {
      bench: "slice",
      ratios: {
        checkpointFsOverSlice: fs.fraction,
        checkpointMemoryOverSlice: memory.fraction,
        cachedOverReencodedStep: wall.cached / wall.reencoded,
        cachedOverReencodedStepCpu: cpu.cached / cpu.reencoded,
        vaeEncodeOverCachedStepCpu: cpu.vae / cpu.cached,
      },
      tables: [
        {
          title: `Checkpoint write + read vs a ${steps}-update slice (steps ${start.step}..${end.step}, checkpoint ${checkpointBytes} bytes; slice median ${ms(sliceMs)})`,
          columns: ["store", "encode", "put", "get", "decode", "write + read", "fraction of slice"],
          rows: storeRows.map((r) => [r.name === "fs" ? "filesystem (fsync)" : "memory", ms(r.encode), ms(r.put), ms(r.get), ms(r.decode), ms(r.write + r.read), percent(r.fraction)]),
        },
        {
          title: `Training step (batch ${job.description.batchSize}): cached VAE latents vs re-encoding every step (${latentSteps} steps per repetition)`,
          columns: ["way", "per step (wall)", "vs re-encoding (wall)", "per step (CPU)", "vs re-encoding (CPU)"],
          rows: [
            ["cached latents (engine)", ms(wall.cached), ratio(wall.cached / wall.reencoded), ms(cpu.cached), ratio(cpu.cached / cpu.reencoded)],
            ["VAE every step (diffusers)", ms(wall.reencoded), "1", ms(cpu.reencoded), "1"],
            ["(the VAE encode alone)", ms(wall.vae), ratio(wall.vae / wall.reencoded), ms(cpu.vae), ratio(cpu.vae / cpu.reencoded)],
          ],
        },
      ],
      notes: [
        `model ${bundled.identity.path}: fingerprint ${bundled.identity.fingerprint.slice(0, 16)}, last commit ${bundled.identity.commit ?? "unknown"}`,
        `${runs} runs after ${warmup} warm-up, medians; ${threads} onnxruntime threads; prefix of ${fromStep} updates took ${ms(prefixMs)} once`,
        `the VAE encoder runs on the step's ${job.description.batchSize} images as one batch; on a model whose VAE is small next to its UNet the two ways differ by less than the noise of a shared machine`,
        `same batch both ways: last losses ${cachedLoss.toPrecision(7)} (cached) and ${reencodedLoss.toPrecision(7)} (re-encoded), relative difference ${lossRelativeDifference.toPrecision(2)}`,
      ],
      details: {
        model: bundled.identity,
        slice: { steps, fromStep, prefixMs, sliceMs, sliceCpuMs: medians(sliceTimes.cpu).slice, sliceMsRuns: sliceTimes.wall.slice, stepsPerSecond: (steps * 1000) / sliceMs, checkpointBytes },
        checkpoint: Object.fromEntries(storeRows.map((r) => [r.name, r])),
        latents: { latentSteps, perStepWallMs: wall, perStepCpuMs: cpu, cachedLoss, reencodedLoss, lossRelativeDifference, runs: latentTimes },
      },
    };
  } finally {
    await bundled.close();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
