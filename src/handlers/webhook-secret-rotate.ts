/** POST /v1/webhook-secret/rotate: a new secret; the old one keeps signing during a grace period. */
import { createRoute, z } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { describeWebhookSecret, webhookSecretSchema } from "./schemas/webhook-secret.js";
import { toApiError } from "./service-errors.js";
import { DEFAULT_ROTATION_GRACE_MS, WebhookSecretStore } from "../services/webhooks/secret-store.js";

const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export const rotateWebhookSecretRoute = createRoute({
  method: "post",
  path: "/v1/webhook-secret/rotate",
  operationId: "rotateWebhookSecret",
  summary: "Rotate the webhook signing secret",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      grace_seconds: z.coerce
        .number()
        .int()
        .min(0)
        .max(MAX_GRACE_SECONDS)
        .optional()
        .openapi({ description: `How long the old secret keeps signing too (default ${DEFAULT_ROTATION_GRACE_MS / 1000}, at most ${MAX_GRACE_SECONDS}).` }),
    }),
  },
  responses: {
    200: { description: "The new secret.", content: { "application/json": { schema: webhookSecretSchema } } },
    ...problemResponses("validation_failed", "conflict"),
  },
});

export function registerRotateWebhookSecret(app: ApiApp, deps: ApiDeps): void {
  const secrets = new WebhookSecretStore({ store: deps.store, ...(deps.clock ? { clock: deps.clock } : {}) });
  app.openapi(rotateWebhookSecretRoute, async (c) => {
    const { grace_seconds } = c.req.valid("query");
    const graceMs = grace_seconds === undefined ? DEFAULT_ROTATION_GRACE_MS : grace_seconds * 1000;
    const record = await secrets.rotate(principalOf(c).tenantId, graceMs).catch(toApiError);
    return c.json(describeWebhookSecret(record), 200, { "cache-control": "no-store" });
  });
}
