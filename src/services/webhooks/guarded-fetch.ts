import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { checkWebhookUrl, type WebhookNetworkPolicy } from "./url-guard.js";

/** The part of `fetch` that webhook delivery needs; tests inject their own. */
export type WebhookFetch = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number }>;

/**
 * The real transport: resolves the host once through `checkWebhookUrl` and connects to an
 * address it allowed (a custom `lookup` pins the socket to it), so a DNS answer that changes
 * between check and connect (rebinding) cannot redirect the request. TLS still verifies the
 * certificate against the URL's host name. Redirects are not followed; the response body is
 * discarded unread.
 */
export function createGuardedFetch(policy: WebhookNetworkPolicy): WebhookFetch {
  return async (url, init) => {
    const { url: target, addresses } = await checkWebhookUrl(url, policy);
    const address = addresses[0]!;
    const family = isIP(address);
    const pinned = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      if (options?.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    }) as unknown as LookupFunction;
    const options: RequestOptions = {
      method: init.method,
      headers: { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) },
      lookup: pinned,
      signal: init.signal,
    };
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(target, options, (res) => {
        resolve({ status: res.statusCode ?? 0 });
        res.destroy();
      });
      req.on("error", reject);
      req.end(init.body);
    });
  };
}
