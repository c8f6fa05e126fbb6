/**
 * A Dispatcher that hands each slice to the Node side over HTTP (protocol.ts): the Workers
 * control plane cannot start slices itself (Modal's SDK needs Node, the in-process runner needs
 * onnxruntime), so it POSTs a signed invocation to the receiver of `dvar serve`, which passes it
 * to its own configured dispatcher. Network errors, timeouts, 429 and 5xx are retried with a
 * fresh signature (dispatch is idempotent per slice); any other answer is final.
 */
import { DispatchError, DispatcherClosedError, invocationKey, parseSliceInvocation, type DispatchReceipt, type Dispatcher, type SliceInvocation } from "../dispatcher.js";
import { dispatchBody, dispatchReceiptSchema, signDispatch } from "./protocol.js";

export type DispatchFetch = (url: string, init: { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<Response>;

export interface HttpDispatcherOptions {
  /** The receiver, e.g. https://node.example.com/internal/dispatch. */
  readonly url: string;
  /** Shared `whsec_` secrets (protocol.ts parseDispatchSecrets); every one signs. */
  readonly secrets: readonly string[];
  /** Per attempt (default 30 s: a Modal dispatch returns once the sandbox is scheduled). */
  readonly timeoutMs?: number;
  /** Attempts in all (default 3). */
  readonly attempts?: number;
  /** Waits before attempt 2, 3, ... (default 250 ms, 1 s, then 1 s). */
  readonly backoffMs?: readonly number[];
  readonly fetch?: DispatchFetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class HttpDispatcher implements Dispatcher {
  private readonly options: Required<Omit<HttpDispatcherOptions, "fetch">> & { fetch: DispatchFetch };
  private closed = false;

  constructor(options: HttpDispatcherOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new RangeError(`dispatch URL must be http(s), got ${url.protocol}`);
    if (options.secrets.length === 0) throw new RangeError("HTTP dispatch needs at least one shared secret");
    const attempts = options.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be an integer >= 1, got ${attempts}`);
    this.options = {
      url: url.toString(),
      secrets: [...options.secrets],
      timeoutMs: options.timeoutMs ?? 30_000,
      attempts,
      backoffMs: options.backoffMs ?? [250, 1000],
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms))),
    };
  }

  async dispatch(input: SliceInvocation): Promise<DispatchReceipt> {
    const invocation = parseSliceInvocation(input);
    const key = invocationKey(invocation);
    if (this.closed) throw new DispatcherClosedError(`dispatcher is closed; slice ${key} not sent`);
    const { url, secrets, timeoutMs, attempts, backoffMs, fetch, now, sleep } = this.options;
    const body = dispatchBody(invocation);
    let last = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(backoffMs[Math.min(attempt - 2, backoffMs.length - 1)] ?? 0);
      let response: Response;
      try {
        const headers = { "content-type": "application/json", ...signDispatch(body, secrets, now()) };
        response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        last = `${(error as Error).name}: ${(error as Error).message}`;
        continue;
      }
      const text = await response.text();
      if (response.ok) return this.receipt(invocation, text);
      last = `HTTP ${response.status}${problemCode(text)}`;
      if (response.status !== 429 && response.status < 500) break;
    }
    throw new DispatchError(`HTTP dispatch of slice ${key} to ${url} failed: ${last}`);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private receipt(invocation: SliceInvocation, text: string): DispatchReceipt {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DispatchError(`HTTP dispatch of slice ${invocationKey(invocation)}: the receiver answered 2xx without a JSON receipt`);
    }
    const parsed = dispatchReceiptSchema.safeParse(json);
    if (!parsed.success || parsed.data.jobId !== invocation.jobId || parsed.data.slice !== invocation.slice) {
      throw new DispatchError(`HTTP dispatch of slice ${invocationKey(invocation)}: the receiver's receipt does not describe this slice`);
    }
    const { ref, ...rest } = parsed.data;
    return ref === undefined ? rest : { ...rest, ref };
  }
}

/** " (code)" from a problem+json answer, for error messages. */
function problemCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === "string" ? ` (${code})` : "";
  } catch {
    return "";
  }
}
