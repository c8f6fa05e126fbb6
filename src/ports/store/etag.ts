import { createHash } from "node:crypto";

/** The embedded stores' ETag: a content hash (SHA-256, hex), so equal bytes give equal ETags. */
export function contentEtag(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}
