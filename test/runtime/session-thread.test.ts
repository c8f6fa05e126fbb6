import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { turnsDuring } from "../helpers/event-loop.js";
import { ModelSession, RuntimeError, type HostTensor } from "../../src/runtime/session.js";
import { normalsF32, RngStream } from "../../src/core/rng/stream.js";

const UNET = join(import.meta.dirname, "../../models/tiny-sd/unet/model.onnx");

/** A UNet call of the bundled model at batch B (about 30 ms at B = 32 on one thread here). */
function unetFeeds(batch: number, seed: number): Record<string, HostTensor> {
  const normal = (n: number, step: number) => normalsF32({ seed, stream: RngStream.noise, step }, n);
  // A view into a larger buffer: the session must send exactly the view, not the whole buffer.
  const padded = new Float32Array(batch * 77 * 64 + 16);
  padded.set(normal(batch * 77 * 64, 1), 16);
  return {
    sample: { data: normal(batch * 4 * 8 * 8, 0), dims: [batch, 4, 8, 8] },
    timestep: { data: BigInt64Array.from({ length: batch }, (_, i) => BigInt((i * 37) % 1000)), dims: [batch] },
    encoder_hidden_states: { data: padded.subarray(16), dims: [batch, 77, 64] },
  };
}

describe("ModelSession execution providers", () => {
  it("hands the providers to onnxruntime: the CPU runs here, CUDA fails to load instead of falling back", async () => {
    const cpu = await ModelSession.fromFile(UNET, { threads: 1, executionProviders: ["cpu"] });
    await expect(cpu.run(unetFeeds(1, 0))).resolves.toHaveProperty("out_sample");
    await cpu.release();
    // This machine's onnxruntime-node has no CUDA provider libraries (.npmrc skips them).
    for (const offThread of [false, true]) {
      await expect(ModelSession.fromFile(UNET, { executionProviders: ["cuda", "cpu"], offThread })).rejects.toThrow(/could not load[\s\S]*Cuda/i);
    }
  });
});

describe("ModelSession with offThread", () => {
  it("returns the same bits as the session on this thread, and names the same inputs and outputs", async () => {
    const here = await ModelSession.fromFile(UNET, { threads: 1 });
    const there = await ModelSession.fromFile(UNET, { threads: 1, offThread: true });
    try {
      expect(there.inputNames).toEqual(here.inputNames);
      expect(there.outputNames).toEqual(here.outputNames);
      const feeds = unetFeeds(4, 7);
      const a = await here.run(feeds);
      const b = await there.run(feeds);
      expect(b.out_sample!.dims).toEqual([4, 4, 8, 8]);
      expect(b.out_sample!.data).toBeInstanceOf(Float32Array);
      expect(Buffer.from(b.out_sample!.data.buffer).equals(Buffer.from(a.out_sample!.data.buffer))).toBe(true);
      // The caller's feeds are untouched (copied, not transferred away).
      expect(feeds.sample!.data.length).toBe(4 * 4 * 8 * 8);
      expect(feeds.encoder_hidden_states!.data.length).toBe(4 * 77 * 64);
    } finally {
      await here.release();
      await there.release();
    }
  });

  it("keeps the event loop turning while a run is in flight", async () => {
    const there = await ModelSession.fromFile(UNET, { threads: 1, offThread: true });

    const here = await ModelSession.fromFile(UNET, { threads: 1 });
    try {
      const feeds = unetFeeds(32, 1);
      await there.run(feeds); // warm-up
      await here.run(feeds);
      // onnxruntime-node 1.30 runs a session on the calling thread: the loop turns once, when
      // the run has ended (measured: 1); a worker leaves it free for the whole ~30 ms
      // (measured: about 10,000 turns).
      expect(await turnsDuring(here.run(feeds))).toBeLessThanOrEqual(2);
      expect(await turnsDuring(there.run(feeds))).toBeGreaterThan(20);
    } finally {
      await there.release();
      await here.release();
    }
  });

  it("runs calls issued together and answers each with its own outputs", async () => {
    const there = await ModelSession.fromFile(UNET, { threads: 1, offThread: true });
    const here = await ModelSession.fromFile(UNET, { threads: 1 });
    try {
      const inputs = [1, 2, 3].map((seed) => unetFeeds(2, seed));
      const together = await Promise.all(inputs.map((f) => there.run(f)));
      for (const [i, f] of inputs.entries()) {
        const expected = (await here.run(f)).out_sample!.data;
        expect(together[i]!.out_sample!.data).toEqual(expected);
      }
    } finally {
      await there.release();
      await here.release();
    }
  });

  it("rejects a bad call with onnxruntime's message and keeps serving", async () => {
    const there = await ModelSession.fromFile(UNET, { threads: 1, offThread: true });
    try {
      const bad = { ...unetFeeds(2, 3), sample: { data: new Float32Array(10), dims: [10] } };
      await expect(there.run(bad)).rejects.toThrow(/sample|rank|dimension|shape/i);
      await expect(there.run(unetFeeds(2, 3))).resolves.toHaveProperty("out_sample");
    } finally {
      await there.release();
    }
  });

  it("fails calls after release and reports a model it cannot load", async () => {
    const there = await ModelSession.fromFile(UNET, { threads: 1, offThread: true });
    await there.release();
    await expect(there.run(unetFeeds(1, 0))).rejects.toThrow(/released/);
    await expect(ModelSession.fromFile(join(import.meta.dirname, "no-such-model.onnx"), { offThread: true })).rejects.toThrow(RuntimeError);
    await expect(ModelSession.fromBytes(new Uint8Array([1, 2, 3]), { offThread: true })).rejects.toThrow(/could not load the model/);
  });
});
