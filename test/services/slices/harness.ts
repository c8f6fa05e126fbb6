/** Shared set-up for the slice service tests: a store that logs and can intercept operations. */
import type { CopyOptions, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "../../../src/ports/store/index.js";
import { listAllKeys } from "../../../src/ports/store/list-all.js";
import type { Clock } from "../../../src/ports/clock.js";
import type { DispatchReceipt, SliceInvocation } from "../../../src/ports/dispatcher/index.js";
import type { WebhookEventType } from "../../../src/services/webhooks/events.js";
import type { JobRecord } from "../../../src/services/jobs/index.js";
import { describeSynthetic } from "../../../src/core/synthetic/objective.js";
import { defaultObjectives, type ObjectiveFactory } from "../../../src/services/slices/index.js";

export interface Op {
  readonly op: "get" | "put" | "copy" | "delete";
  readonly key: string;
}

/** Wraps a Store: logs every operation and lets a test run code before one (to interleave writers). */
export class ObservedStore implements Store {
  readonly ops: Op[] = [];
  beforeGet?: (key: string) => Promise<void> | void;
  beforePut?: (key: string, options: PutOptions | undefined) => Promise<void> | void;
  afterPut?: (key: string) => Promise<void> | void;

  constructor(readonly inner: Store) {}

  async get(key: string): Promise<StoredObject | undefined> {
    await this.beforeGet?.(key);
    this.ops.push({ op: "get", key });
    return this.inner.get(key);
  }
  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    await this.beforePut?.(key, options);
    const result = await this.inner.put(key, body, options);
    this.ops.push({ op: "put", key });
    await this.afterPut?.(key);
    return result;
  }
  async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    const result = await this.inner.copy(from, to, options);
    this.ops.push({ op: "copy", key: to });
    return result;
  }
  async delete(key: string): Promise<void> {
    await this.inner.delete(key);
    this.ops.push({ op: "delete", key });
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.inner.list(prefix, options);
  }
  writes(): Op[] {
    return this.ops.filter((o) => o.op !== "get");
  }
}

/** Every key under a prefix (all pages). */
export function allKeys(store: Store, prefix = ""): Promise<string[]> {
  return listAllKeys(store, prefix);
}

/** A clock that moves one second per reading, so billed seconds are known. */
export function steppingClock(start = Date.parse("2026-01-01T00:00:00Z")): Clock {
  let t = start;
  return { now: () => (t += 1000), sleep: async () => {} };
}

export class RecordingDispatcher {
  readonly calls: SliceInvocation[] = [];
  failNext = 0;
  async dispatch(invocation: SliceInvocation): Promise<DispatchReceipt> {
    this.calls.push(invocation);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("dispatch backend unavailable");
    }
    return { ...invocation, dispatcher: "inprocess", duplicate: false };
  }
}

export class RecordingEvents {
  readonly events: Array<[string, WebhookEventType]> = [];
  async emit(job: JobRecord, type: WebhookEventType): Promise<void> {
    this.events.push([job.id, type]);
  }
}

/** A synthetic job config: 12 steps at most, so 5-step slices give 3 slices. */
export function syntheticConfig(overrides: Record<string, unknown> = {}) {
  return { seed: 11, maxSteps: 12, stop: { name: "dvar" as const, window: 310 }, objective: describeSynthetic({ ...SMALL }), ...overrides };
}

const SMALL = { dim: 8, batchSize: 2, evalBatchSize: 2, images: 2, sigma: 2, imageSpread: 0.3, c0: 0.02, c1: 0.6, w0: 0.005 };

/** A clock the test moves by hand (`t`, epoch ms). */
export class FakeClock implements Clock {
  constructor(public t: number) {}
  now = () => this.t;
  sleep = async () => {};
}

/** The synthetic objective whose training steps each take `stepMs` of the fake clock; `during(s)` runs inside step s. */
export function timedObjectives(clock: FakeClock, stepMs: number, during?: (step: number) => Promise<void>): ObjectiveFactory {
  return async (config, jobId) => {
    const prepared = await defaultObjectives()(config, jobId);
    const inner = prepared.objective;
    return {
      ...prepared,
      objective: {
        ...inner,
        trainLossAndGradient: async (step: number, params: Float32Array) => {
          clock.t += stepMs;
          await during?.(step);
          return inner.trainLossAndGradient(step, params);
        },
      },
    };
  };
}
