/**
 * A real API over a MemoryStore: two tenants with one key each, slices run in this process
 * by the real slice service (synthetic objective, small budget), and helpers for requests.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createApi } from "../../../src/handlers/api.js";
import type { ApiDeps } from "../../../src/handlers/deps.js";
import { InProcessDispatcher } from "../../../src/ports/dispatcher/index.js";
import { MemoryStore, type Store } from "../../../src/ports/store/index.js";
import { ApiKeyRegistry } from "../../../src/services/auth/index.js";
import type { SliceBudget } from "../../../src/core/inversion/run-slice.js";
import { defaultObjectives, StoreSliceService, type ObjectiveFactory, type OutputWriter } from "../../../src/services/slices/index.js";

export interface Harness {
  readonly app: ReturnType<typeof createApi>;
  readonly store: Store;
  readonly dispatcher: InProcessDispatcher;
  readonly dispatched: Array<{ jobId: string; slice: number }>;
  readonly keyA: string;
  readonly keyB: string;
  call(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>, key?: string): Promise<Response>;
}

export interface HarnessOptions {
  readonly outputs?: OutputWriter;
  /** false: record dispatches without running slices. */
  readonly runSlices?: boolean;
  readonly deps?: Partial<ApiDeps>;
  /** Default: a fresh MemoryStore. */
  readonly store?: Store;
  /** Default: defaultObjectives() without a store (synthetic only). */
  readonly objectives?: ObjectiveFactory;
  /** Default: 40 steps or a minute per slice. */
  readonly budget?: SliceBudget;
  /** Where the app reports unexpected errors (default: console.error). */
  readonly logError?: (error: unknown) => void;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const store = options.store ?? new MemoryStore();
  const keys = new ApiKeyRegistry(store);
  const { key: keyA } = await keys.issue("tenant-a", "test");
  const { key: keyB } = await keys.issue("tenant-b", "test");
  const dispatched: Array<{ jobId: string; slice: number }> = [];
  let service: StoreSliceService | undefined;
  const runner = new InProcessDispatcher({ runSlice: (invocation) => service!.run(invocation), onError: (_i, error) => console.error(error) });
  const dispatcher = {
    dispatch: async (invocation: { jobId: string; slice: number }) => {
      dispatched.push(invocation);
      if (options.runSlices === false) return { ...invocation, dispatcher: "inprocess" as const, duplicate: false };
      return runner.dispatch(invocation);
    },
  };
  service = new StoreSliceService({
    store,
    dispatcher,
    objectives: options.objectives ?? defaultObjectives(),
    budget: options.budget ?? { maxWallMs: 60_000, maxSteps: 40 },
    device: "cpu",
    ...(options.outputs ? { outputs: options.outputs } : {}),
  });
  const app = createApi(
    { store, dispatcher, keys, webhookPolicy: { allowPrivateAddresses: false, resolve: async () => ["93.184.215.14"] }, eventsPollMs: 20, ...options.deps },
    { logError: options.logError ?? ((error) => console.error(error)) },
  );
  const call: Harness["call"] = (path, init = {}) => {
    const { key = keyA, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key !== null) headers.set("authorization", `Bearer ${key}`);
    return Promise.resolve(app.request(path, { ...rest, headers }));
  };
  const post: Harness["post"] = (path, body, headers = {}, key = keyA) =>
    call(path, { method: "POST", key, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { app, store, dispatcher: runner, dispatched, keyA, keyB, call, post };
}

/** A small synthetic job (finishes within a few slices). */
export function syntheticBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { objective: "synthetic", seed: 7, max_steps: 60, stopping: { name: "fixed", steps: 60 }, dim: 8, ...overrides };
}

export async function problem(response: Response): Promise<{ code: string; status: number; detail: string }> {
  if (response.headers.get("content-type") !== "application/problem+json") {
    throw new Error(`expected problem+json, got ${response.status} ${response.headers.get("content-type")}: ${await response.text()}`);
  }
  return (await response.json()) as { code: string; status: number; detail: string };
}

/**
 * Every object key in the store except API keys and the budget's usage summaries (a cache of the
 * ledger any budget check may refresh), to assert that a refusal stored nothing.
 */
export async function storedKeys(store: Store): Promise<string[]> {
  const page = await store.list("");
  return page.entries.map((e) => e.key).filter((k) => !k.startsWith("api-keys/") && !k.startsWith("usage-totals/"));
}

/** The bundled concept's training images, uploaded through POST /v1/uploads; returns their ids. */
export async function uploadConcept(h: Harness, dir = "examples/concepts/arrow"): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".png")).sort();
  const ids: string[] = [];
  for (const file of files) {
    const response = await h.call("/v1/uploads", { method: "POST", headers: { "content-type": "image/png" }, body: await readFile(join(dir, file)) });
    if (response.status !== 201) throw new Error(`upload of ${file} answered ${response.status}: ${await response.text()}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

/** A short textual_inversion job on the bundled model (fixed steps). */
export function textualInversionBody(images: string[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    objective: "textual_inversion",
    model: "tiny-sd",
    placeholder_token: "<arrow>",
    initializer_token: "circle",
    images,
    seed: 11,
    max_steps: 4,
    stopping: { name: "fixed", steps: 4 },
    ...overrides,
  };
}
