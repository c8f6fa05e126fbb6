/** GET /v1/webhook-secret: the tenant's signing secret, created on first request. */
import { createRoute } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { describeWebhookSecret, webhookSecretSchema } from "./schemas/webhook-secret.js";
import { WebhookSecretStore } from "../services/webhooks/secret-store.js";

export const getWebhookSecretRoute = createRoute({
  method: "get",
  path: "/v1/webhook-secret",
  operationId: "getWebhookSecret",
  summary: "The secret that signs the tenant's webhooks",
  security: BEARER_SECURITY,
  responses: {
    200: { description: "The current secret (generated if the tenant had none).", content: { "application/json": { schema: webhookSecretSchema } } },
    ...problemResponses(),
  },
});

export function registerGetWebhookSecret(app: ApiApp, deps: ApiDeps): void {
  const secrets = new WebhookSecretStore({ store: deps.store, ...(deps.clock ? { clock: deps.clock } : {}) });
  app.openapi(getWebhookSecretRoute, async (c) => {
    const record = await secrets.getOrCreate(principalOf(c).tenantId);
    return c.json(describeWebhookSecret(record), 200, { "cache-control": "no-store" });
  });
}
