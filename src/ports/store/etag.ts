import { createHash, type Hash } from "node:crypto";

/** The embedded stores' ETag: a content hash (SHA-256, hex), so equal bytes give equal ETags. */
export function contentEtag(body: Uint8Array): string {
  return contentHash().update(body).digest("hex");
}

/** The hash behind contentEtag, for bytes fed in pieces (digest it as hex). */
export function contentHash(): Hash {
  return createHash("sha256");
}
