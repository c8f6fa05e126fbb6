/**
 * GET /v1/inversions/{id}/events: Server-Sent Events. The job record is polled (it is the one
 * source of truth, written by slices anywhere); every new revision is a `progress` event whose
 * id is the revision, and the stream ends with a `done` event once the job is terminal.
 * A client reconnecting with Last-Event-ID gets nothing it has already seen.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { jobNotFound } from "./inversions-get.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { isTerminal } from "../services/jobs/index.js";
import { summarizeJob } from "../services/inversions/job-view.js";
import { InversionService } from "../services/inversions/inversion-service.js";

const HEARTBEAT_MS = 15_000;

export const inversionEventsRoute = createRoute({
  method: "get",
  path: "/v1/inversions/{id}/events",
  operationId: "streamInversionEvents",
  summary: "Follow a job's progress (Server-Sent Events)",
  security: BEARER_SECURITY,
  request: { params: jobIdParams },
  responses: {
    200: {
      description: "`progress` events (data: the job summary, id: its revision) and a final `done` event.",
      content: { "text/event-stream": { schema: z.string() } },
    },
    ...problemResponses("validation_failed", "not_found"),
  },
});

export function registerInversionEvents(app: ApiApp, deps: ApiDeps): void {
  const service = new InversionService(deps);
  const pollMs = deps.eventsPollMs ?? 500;
  app.openapi(inversionEventsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const principal = principalOf(c);
    const first = await service.get(principal, id);
    if (!first) throw jobNotFound(id);
    const lastSeen = Number(c.req.header("last-event-id") ?? -1);
    return streamSSE(c, async (stream) => {
      let job = first;
      let sent = Number.isInteger(lastSeen) ? lastSeen : -1;
      let quietSince = Date.now();
      while (!stream.aborted) {
        if (job.record.revision > sent) {
          sent = job.record.revision;
          quietSince = Date.now();
          await stream.writeSSE({ event: "progress", id: String(sent), data: JSON.stringify(summarizeJob(job.record)) });
        }
        if (isTerminal(job.record.status)) {
          await stream.writeSSE({ event: "done", data: JSON.stringify({ id, status: job.record.status }) });
          return;
        }
        if (Date.now() - quietSince > HEARTBEAT_MS) {
          await stream.write(": keep-alive\n\n");
          quietSince = Date.now();
        }
        await stream.sleep(pollMs);
        const next = await service.get(principal, id);
        if (!next) return;
        job = next;
      }
    });
  });
}
