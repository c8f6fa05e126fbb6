import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { forbiddenReason } from "./address-policy.js";

export interface WebhookNetworkPolicy {
  /** Allow loopback, private and link-local targets (local development only). */
  readonly allowPrivateAddresses: boolean;
  /** Name resolution (default: the system resolver, every address). */
  readonly resolve?: (hostname: string) => Promise<readonly string[]>;
}

export type WebhookUrlProblem = "invalid_url" | "unsupported_scheme" | "credentials_in_url" | "unresolvable" | "private_address";

export class WebhookUrlRefusedError extends Error {
  override readonly name = "WebhookUrlRefusedError";
  constructor(
    readonly problem: WebhookUrlProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface CheckedWebhookUrl {
  readonly url: URL;
  /** The addresses the host resolved to, all allowed by the policy; connect to one of these. */
  readonly addresses: readonly string[];
}

const systemResolve = async (hostname: string) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Parses and resolves a webhook URL once and judges every address it resolves to: one
 * forbidden address refuses the URL (a name resolving to both a public and a private address
 * is how DNS rebinding starts). Callers then connect to a returned address, not the name.
 */
export async function checkWebhookUrl(text: string, policy: WebhookNetworkPolicy): Promise<CheckedWebhookUrl> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlRefusedError("invalid_url", "webhook URL is not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new WebhookUrlRefusedError("unsupported_scheme", `webhook URL scheme must be http or https, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new WebhookUrlRefusedError("credentials_in_url", "webhook URL must not carry a user name or password");
  }
  // The URL parser has already normalised IPv4 spellings such as 0x7f.1 or 2130706433.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: readonly string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (policy.resolve ?? systemResolve)(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw new WebhookUrlRefusedError("unresolvable", `webhook host "${host}" does not resolve`);
  }
  if (!policy.allowPrivateAddresses) {
    for (const address of addresses) {
      const reason = forbiddenReason(address);
      if (reason) {
        throw new WebhookUrlRefusedError("private_address", `webhook host "${host}" resolves to a ${reason} address`);
      }
    }
  }
  return { url, addresses };
}
