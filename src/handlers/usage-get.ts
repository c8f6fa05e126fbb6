/** GET /v1/usage: the caller's tenant's billed slices and generations, summed (optionally for one key and a time window). */
import { createRoute, z } from "@hono/zod-openapi";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { BEARER_SECURITY, problemResponses } from "./schemas/common.js";
import { UsageLedger } from "../services/usage/index.js";

const totals = z.object({
  slices: z.number().int().openapi({ description: "Inversion slices billed." }),
  generations: z.number().int().openapi({ description: "Generations billed." }),
  steps: z.number().int().openapi({ description: "Optimisation steps of the slices plus images x sampler steps of the generations." }),
  seconds: z.number().openapi({ description: "Device seconds (what a key's budget counts)." }),
});

export const usageSchema = totals
  .extend({
    object: z.literal("usage"),
    jobs: z.number().int().openapi({ description: "Distinct inversion jobs with a slice in the window." }),
    from: z.string().nullable(),
    to: z.string().nullable(),
    by_device: z.record(z.string(), totals),
    by_key: z.record(z.string(), totals),
  })
  .openapi("Usage");

export const getUsageRoute = createRoute({
  method: "get",
  path: "/v1/usage",
  operationId: "getUsage",
  summary: "Usage of the caller's tenant",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      from: z.iso.datetime({ offset: true }).optional().openapi({ description: "Inclusive lower bound (ISO 8601)." }),
      to: z.iso.datetime({ offset: true }).optional().openapi({ description: "Exclusive upper bound (ISO 8601)." }),
      key_id: z.string().regex(/^key_[0-9a-f]{16}$/).optional().openapi({ description: "Only this API key's usage." }),
    }),
  },
  responses: {
    200: { description: "Totals, per device and per key.", content: { "application/json": { schema: usageSchema } } },
    ...problemResponses("validation_failed"),
  },
});

export function registerGetUsage(app: ApiApp, deps: ApiDeps): void {
  const ledger = new UsageLedger(deps.store);
  app.openapi(getUsageRoute, async (c) => {
    const { from, to, key_id } = c.req.valid("query");
    const summary = await ledger.summarize({
      tenantId: principalOf(c).tenantId,
      ...(key_id === undefined ? {} : { keyId: key_id }),
      ...(from === undefined ? {} : { from: new Date(from) }),
      ...(to === undefined ? {} : { to: new Date(to) }),
    });
    return c.json(
      {
        object: "usage" as const,
        from: from ?? null,
        to: to ?? null,
        jobs: summary.jobs,
        slices: summary.slices,
        generations: summary.generations,
        steps: summary.steps,
        seconds: summary.seconds,
        by_device: summary.byDevice,
        by_key: summary.byKey,
      },
      200,
    );
  });
}
