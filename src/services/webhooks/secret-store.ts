/**
 * Where signing secrets live: one object per tenant, `tenants/<t>/webhook-secret.json`,
 * created on first need (If-None-Match, so two first readers agree on one secret) and rotated
 * with If-Match. After a rotation the previous secret stays active until `previousExpiresAt`,
 * so messages carry both signatures while receivers switch over.
 */
import { z } from "zod";
import { storedObject } from "../../core/io/stored-object.js";
import { generateWebhookSecret } from "../../core/signing/index.js";
import { systemClock, type Clock } from "../../ports/clock.js";
import { PreconditionFailedError } from "../../ports/store/errors.js";
import type { Store } from "../../ports/store/store.js";

const isoTime = z.iso.datetime();
/** Fields a newer version adds are kept through a rotation (storedObject; docs/STORE.md, "Compatibility"). */
const secretRecordSchema = storedObject({
  format: z.literal("dvar-webhook-secret"),
  formatVersion: z.literal(1),
  tenantId: z.string(),
  secret: z.string().startsWith("whsec_"),
  createdAt: isoTime,
  previous: storedObject({ secret: z.string().startsWith("whsec_"), expiresAt: isoTime }).nullable(),
});
export type WebhookSecretRecord = z.infer<typeof secretRecordSchema>;

/** Default grace period after a rotation: the old secret keeps signing for a day. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

export class CorruptWebhookSecretError extends Error {
  override readonly name = "CorruptWebhookSecretError";
}

export function webhookSecretKey(tenantId: string): string {
  return `tenants/${tenantId}/webhook-secret.json`;
}

export interface WebhookSecretStoreDeps {
  readonly store: Store;
  readonly clock?: Clock;
  readonly generate?: () => string;
}

export class WebhookSecretStore {
  private readonly clock: Clock;
  private readonly generate: () => string;

  constructor(private readonly deps: WebhookSecretStoreDeps) {
    this.clock = deps.clock ?? systemClock;
    this.generate = deps.generate ?? (() => generateWebhookSecret());
  }

  /** The tenant's secret record, created if the tenant has none yet. */
  async getOrCreate(tenantId: string): Promise<WebhookSecretRecord> {
    const found = await this.read(tenantId);
    if (found) return found.record;
    const record: WebhookSecretRecord = {
      format: "dvar-webhook-secret",
      formatVersion: 1,
      tenantId,
      secret: this.generate(),
      createdAt: this.iso(0),
      previous: null,
    };
    try {
      await this.deps.store.put(webhookSecretKey(tenantId), encode(record), { ifNoneMatch: "*", contentType: "application/json" });
      return record;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const winner = await this.read(tenantId); // another request created it first: use theirs
      if (!winner) throw error;
      return winner.record;
    }
  }

  /** A new current secret; the old one stays active for `graceMs`. */
  async rotate(tenantId: string, graceMs: number = DEFAULT_ROTATION_GRACE_MS): Promise<WebhookSecretRecord> {
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new RangeError(`rotation grace must be >= 0 ms, got ${graceMs}`);
    for (let attempt = 0; attempt < 8; attempt++) {
      await this.getOrCreate(tenantId);
      const current = (await this.read(tenantId))!;
      const next: WebhookSecretRecord = {
        ...current.record,
        secret: this.generate(),
        createdAt: this.iso(0),
        previous: { secret: current.record.secret, expiresAt: this.iso(graceMs) },
      };
      try {
        await this.deps.store.put(webhookSecretKey(tenantId), encode(next), { ifMatch: current.etag, contentType: "application/json" });
        return next;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    throw new PreconditionFailedError(webhookSecretKey(tenantId), "the secret kept changing during rotation");
  }

  /** The secrets to sign with now: the current one, and the previous one inside its grace period. */
  async activeSecrets(tenantId: string): Promise<string[]> {
    const record = await this.getOrCreate(tenantId);
    const previousActive = record.previous !== null && Date.parse(record.previous.expiresAt) > this.clock.now();
    return previousActive ? [record.secret, record.previous!.secret] : [record.secret];
  }

  private async read(tenantId: string): Promise<{ record: WebhookSecretRecord; etag: string } | undefined> {
    const found = await this.deps.store.get(webhookSecretKey(tenantId));
    if (!found) return undefined;
    const parsed = secretRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(found.body)));
    if (!parsed.success || parsed.data.tenantId !== tenantId) throw new CorruptWebhookSecretError(`webhook secret record of tenant "${tenantId}" is invalid`);
    return { record: parsed.data, etag: found.etag };
  }

  private iso(offsetMs: number): string {
    return new Date(this.clock.now() + offsetMs).toISOString();
  }
}

function encode(record: WebhookSecretRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}
