import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { turnsDuring } from "../../helpers/event-loop.js";
import { parseInversionConfig } from "../../../src/core/inversion/index.js";
import { MemoryStore } from "../../../src/ports/store/index.js";
import { defaultObjectives } from "../../../src/services/slices/objectives.js";
import { TEXTUAL_INVERSION_KIND, textualInversionObjectiveFactory } from "../../../src/services/slices/textual-inversion.js";

const CONCEPT = join(import.meta.dirname, "../../../examples/concepts/arrow");

async function storedConcept(store: MemoryStore): Promise<string[]> {
  const keys: string[] = [];
  for (const file of (await readdir(CONCEPT)).filter((f) => f.endsWith(".png")).sort()) {
    const key = `uploads/tenant-a/${file}`;
    await store.put(key, await readFile(join(CONCEPT, file)), { contentType: "image/png" });
    keys.push(key);
  }
  return keys;
}

function tiConfig(images: string[]) {
  return parseInversionConfig({
    seed: 5,
    maxSteps: 4,
    stop: { name: "fixed", steps: 4 },
    objective: { kind: TEXTUAL_INVERSION_KIND, model: "tiny-sd", placeholderToken: "<arrow>", initializerToken: "triangle", numVectors: 1, learnableProperty: "object", images },
  });
}

describe("the textual-inversion objective of the slice service", () => {
  it("opens its sessions with the execution providers the worker is configured with", async () => {
    const store = new MemoryStore();
    const config = tiConfig(await storedConcept(store));
    // This machine has no CUDA provider libraries: the session refuses to load (no silent CPU fallback).
    await expect(defaultObjectives({ store, executionProviders: ["cuda", "cpu"] })(config, "job-cuda")).rejects.toThrow(/Cuda/i);
    const cpu = await defaultObjectives({ store, executionProviders: ["cpu"] })(config, "job-cpu");
    await cpu.close?.();
  });

  it("runs its model calls off the event loop by default, with the same losses and gradients as on it", async () => {
    const store = new MemoryStore();
    const images = await storedConcept(store);
    const config = tiConfig(images);
    const offThread = await textualInversionObjectiveFactory({ store, threads: 1, cacheDir: null })(config, "job-off");
    const onThread = await textualInversionObjectiveFactory({ store, threads: 1, cacheDir: null, offThread: false })(config, "job-on");
    try {
      const params = offThread.initialParams();
      await offThread.objective.trainLossAndGradient(0, params); // compiles the graphs, starts the sessions
      await onThread.objective.trainLossAndGradient(0, params);
      const turnsOff = await turnsDuring(offThread.objective.trainLossAndGradient(1, params));
      const turnsOn = await turnsDuring(onThread.objective.trainLossAndGradient(1, params));
      // On the event loop the loop turns only when the step's model call has ended (measured:
      // 1 turn); off it, it keeps turning through the whole step (measured: ~30,000).
      expect(turnsOn).toBeLessThanOrEqual(4);
      expect(turnsOff).toBeGreaterThan(100);
      const a = await offThread.objective.trainLossAndGradient(2, params);
      const b = await onThread.objective.trainLossAndGradient(2, params);
      expect(a.loss).toBe(b.loss);
      expect(Buffer.from(a.grad.buffer).equals(Buffer.from(b.grad.buffer))).toBe(true);
    } finally {
      await offThread.close?.();
      await onThread.close?.();
    }
  });
});
