/**
 * The engine edge of generations: draw images for one request on a model folder. Two
 * implementations: one that opens the model's sessions for every call (no state, the default
 * for an API built without one), and one that keeps each model's sessions open and runs one
 * generation at a time (the embedded server's: its sessions already use every core).
 */
import { openGenerator, type GenerationRequest, type GenerationResult, type Generator } from "../../engine/generate/pipeline.js";
import type { ModelRunOptions } from "../../runtime/session.js";
import { openModelFolder } from "../../engine/model/folder.js";

export interface ImageGenerator {
  /** Draws the images of `request` with the pipeline in `modelDir`. */
  generate(modelDir: string, request: GenerationRequest): Promise<GenerationResult>;
  /** Releases whatever the generator holds open. */
  close(): Promise<void>;
}

export interface ImageGeneratorOptions {
  /** onnxruntime intra-op threads (0: all cores). */
  readonly threads?: number;
  /**
   * Run the model's sessions on worker threads (default true), so a generation does not block
   * the server's event loop (onnxruntime-node runs a session on the calling thread).
   */
  readonly offThread?: boolean;
}

function generatorOptions(options: ImageGeneratorOptions): ModelRunOptions {
  return { threads: options.threads, offThread: options.offThread ?? true };
}

/** Opens and closes the model's sessions around every call. */
export function perCallImageGenerator(options: ImageGeneratorOptions = {}): ImageGenerator {
  const opened = generatorOptions(options);
  return {
    async generate(modelDir, request) {
      const generator = await openGenerator(openModelFolder(modelDir), opened);
      try {
        return await generator.generate(request);
      } finally {
        await generator.close();
      }
    },
    close: async () => {},
  };
}

/** Keeps each model's sessions open; calls run one after another, in arrival order. */
export function cachedImageGenerator(options: ImageGeneratorOptions = {}): ImageGenerator {
  const opened = generatorOptions(options);
  const open = new Map<string, Promise<Generator>>();
  let queue: Promise<unknown> = Promise.resolve();
  const generatorFor = (modelDir: string): Promise<Generator> => {
    let generator = open.get(modelDir);
    if (!generator) {
      generator = openGenerator(openModelFolder(modelDir), opened);
      // A folder that failed to open is tried again next time, not cached as a failure.
      generator.catch(() => open.delete(modelDir));
      open.set(modelDir, generator);
    }
    return generator;
  };
  return {
    generate(modelDir, request) {
      const run = queue.then(async () => (await generatorFor(modelDir)).generate(request));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      await queue;
      const generators = [...open.values()];
      open.clear();
      for (const generator of generators) await (await generator.catch(() => undefined))?.close();
    },
  };
}
