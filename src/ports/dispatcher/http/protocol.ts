/**
 * The HTTP dispatch protocol between the Workers control plane and the Node side (docs/DEPLOY.md,
 * "HTTP dispatch"): one POST per slice, the body `{"jobId": ..., "slice": n}`, signed like a
 * Standard Webhook (HMAC-SHA256 over "id.timestamp.body" with a shared `whsec_` secret; the
 * project's webhook signing helpers, reused). The receiver accepts a timestamp within
 * DISPATCH_TOLERANCE_SECONDS and each id once, so a captured request cannot be replayed.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { parseWebhookSecret, signWebhook, verifyWebhook, WebhookVerificationError } from "../../../core/signing/index.js";
import { sliceInvocationSchema, type SliceInvocation } from "../dispatcher.js";

/** Where the Node side listens (the embedded server mounts the receiver here). */
export const DISPATCH_PATH = "/internal/dispatch";
/** How far a request's timestamp may be from the receiver's clock. */
export const DISPATCH_TOLERANCE_SECONDS = 300;
/** Bodies are tiny; anything larger is refused before it is read into memory. */
export const MAX_DISPATCH_BODY_BYTES = 4096;

export class DispatchAuthError extends Error {
  override readonly name = "DispatchAuthError";
}

/** What the receiver answers on success: the receipt of the dispatcher it handed the slice to. */
export const dispatchReceiptSchema = z.object({
  jobId: z.string(),
  slice: z.number().int(),
  dispatcher: z.enum(["inprocess", "modal"]),
  duplicate: z.boolean(),
  ref: z.string().optional(),
});

/**
 * The shared secrets, comma- or space-separated (several during a rotation: the sender signs
 * with all, the receiver accepts any). Each must be a `whsec_` secret; messages never echo one.
 */
export function parseDispatchSecrets(value: string, name = "DVAR_DISPATCH_SECRET"): string[] {
  const secrets = value.split(/[\s,]+/).filter((s) => s !== "");
  if (secrets.length === 0) throw new DispatchAuthError(`${name} is empty`);
  for (const [i, secret] of secrets.entries()) {
    try {
      parseWebhookSecret(secret);
    } catch (error) {
      throw new DispatchAuthError(`${name}: secret ${i + 1} is not usable (${(error as Error).message})`);
    }
  }
  return secrets;
}

export function dispatchBody(invocation: SliceInvocation): string {
  return JSON.stringify({ jobId: invocation.jobId, slice: invocation.slice });
}

/** Headers for one attempt: a fresh id and the attempt's own timestamp. */
export function signDispatch(body: string, secrets: readonly string[], nowMs: number, id = `dsp_${randomBytes(16).toString("hex")}`): Record<string, string> {
  return { ...signWebhook(id, Math.floor(nowMs / 1000), body, secrets) };
}

/**
 * Checks signature and timestamp, and returns the request's id (for the replay check) and the
 * invocation. Throws DispatchAuthError (answer 401) or InvalidInvocationError via the schema.
 */
export function verifyDispatch(headers: Record<string, string | undefined>, body: string, secrets: readonly string[], nowMs: number): { id: string; timestampSeconds: number } {
  try {
    verifyWebhook(headers, body, secrets, Math.floor(nowMs / 1000), DISPATCH_TOLERANCE_SECONDS);
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw new DispatchAuthError(error.message.replace(/webhook/g, "dispatch"));
    throw error;
  }
  return { id: headers["webhook-id"]!, timestampSeconds: Number(headers["webhook-timestamp"]) };
}

/** The invocation in a verified body, or a message saying what is wrong with it. */
export function parseDispatchBody(body: string): { invocation: SliceInvocation } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { problem: "the body is not JSON" };
  }
  const parsed = sliceInvocationSchema.safeParse(json);
  return parsed.success ? { invocation: parsed.data } : { problem: z.prettifyError(parsed.error) };
}

/**
 * Ids seen within the tolerance window. A request whose id was seen is a replay; ids older
 * than the window need not be remembered, since their timestamps no longer verify.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  /** True the first time `id` is offered within the window; false for a replay. */
  firstUse(id: string, timestampSeconds: number, nowMs: number): boolean {
    for (const [known, expires] of this.seen) if (expires <= nowMs) this.seen.delete(known);
    if (this.seen.has(id)) return false;
    this.seen.set(id, (timestampSeconds + DISPATCH_TOLERANCE_SECONDS + 1) * 1000);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
