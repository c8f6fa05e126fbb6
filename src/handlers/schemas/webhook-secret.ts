/** The webhook signing secret resource, shared by GET /v1/webhook-secret and its rotation. */
import { z } from "@hono/zod-openapi";
import type { WebhookSecretRecord } from "../../services/webhooks/index.js";

export const webhookSecretSchema = z
  .object({
    object: z.literal("webhook_secret"),
    secret: z.string().openapi({ description: "Verify webhook-signature with this (Standard Webhooks, whsec_...).", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
    created_at: z.string(),
    previous_expires_at: z
      .string()
      .nullable()
      .openapi({ description: "After a rotation, messages are also signed with the previous secret until this time." }),
  })
  .openapi("WebhookSecret");

export function describeWebhookSecret(record: WebhookSecretRecord) {
  return {
    object: "webhook_secret" as const,
    secret: record.secret,
    created_at: record.createdAt,
    previous_expires_at: record.previous?.expiresAt ?? null,
  };
}
