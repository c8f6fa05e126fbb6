/**
 * POST /internal/dispatch: the Node side's end of the HTTP dispatch protocol
 * (src/ports/dispatcher/http/protocol.ts). A request signed with a shared secret, fresh and not
 * seen before, hands its slice to this process's configured dispatcher (Modal or in-process)
 * and answers 202 with that dispatcher's receipt. Not an API-key route and not in the OpenAPI
 * document: only the Workers control plane calls it.
 */
import type { Env, Hono } from "hono";
import { ApiError } from "./errors/index.js";
import { jsonBody } from "./middleware/request-body.js";
import { DispatchError, DispatcherClosedError, type Dispatcher } from "../ports/dispatcher/dispatcher.js";
import { DISPATCH_PATH, DispatchAuthError, MAX_DISPATCH_BODY_BYTES, parseDispatchBody, ReplayGuard, verifyDispatch } from "../ports/dispatcher/http/protocol.js";

export interface DispatchReceiverDeps {
  /** Accepted `whsec_` secrets (parseDispatchSecrets). */
  readonly secrets: readonly string[];
  readonly dispatcher: Pick<Dispatcher, "dispatch">;
  readonly now?: () => number;
  /** Told about refused requests (no secrets, no bodies). */
  readonly log?: (line: string) => void;
}

export function registerDispatchReceiver<E extends Env>(app: Hono<E>, deps: DispatchReceiverDeps): void {
  if (deps.secrets.length === 0) throw new RangeError("the dispatch receiver needs at least one shared secret");
  const now = deps.now ?? Date.now;
  const replays = new ReplayGuard();
  const refuse = (reason: string): never => {
    deps.log?.(JSON.stringify({ event: "dispatch_refused", reason }));
    throw new ApiError("unauthorized", "The dispatch request is not signed with a current shared secret.");
  };
  // Another content type is 415, an oversized body 413, before anything is read.
  app.post(DISPATCH_PATH, jsonBody(MAX_DISPATCH_BODY_BYTES), async (c) => {
    const body = await c.req.text();
    const headers = { "webhook-id": c.req.header("webhook-id"), "webhook-timestamp": c.req.header("webhook-timestamp"), "webhook-signature": c.req.header("webhook-signature") };
    let verified: { id: string; timestampSeconds: number };
    try {
      verified = verifyDispatch(headers, body, deps.secrets, now());
    } catch (error) {
      if (error instanceof DispatchAuthError) refuse(error.message);
      throw error;
    }
    if (!replays.firstUse(verified!.id, verified!.timestampSeconds, now())) refuse(`replayed id ${verified!.id}`);
    const parsed = parseDispatchBody(body);
    if ("problem" in parsed) throw new ApiError("bad_request", `Not a slice invocation: ${parsed.problem}`);
    try {
      const receipt = await deps.dispatcher.dispatch(parsed.invocation);
      return c.json(receipt, 202);
    } catch (error) {
      if (error instanceof DispatchError || error instanceof DispatcherClosedError) {
        throw new ApiError("service_unavailable", "The slice could not be started here; retry later.", { cause: error });
      }
      throw error;
    }
  });
}
