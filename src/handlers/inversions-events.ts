/**
 * GET /v1/inversions/{id}/events: Server-Sent Events. The job record is polled (it is the one
 * source of truth, written by slices anywhere); every new revision is a `progress` event whose
 * id is the revision, and the stream ends with a `done` event once the job is terminal.
 * Between revisions, the running slice's progress object (services/slices/progress.ts) gives
 * `progress` events too, with the steps it reached, id `<revision>.<step>`.
 * A client reconnecting with Last-Event-ID gets nothing it has already seen.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { principalOf, type ApiApp } from "./api-env.js";
import type { ApiDeps } from "./deps.js";
import { jobNotFound } from "./inversions-get.js";
import { BEARER_SECURITY, jobIdParams, problemResponses } from "./schemas/common.js";
import { isTerminal } from "../services/jobs/index.js";
import { progressAhead, summarizeJob } from "../services/inversions/job-view.js";
import { readProgress } from "../services/slices/progress.js";
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
      description:
        "`progress` events (data: the job summary; id: its revision, or `<revision>.<step>` for the running slice's progress between revisions) and a final `done` event.",
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
    const seen = parseEventId(c.req.header("last-event-id"));
    return streamSSE(c, async (stream) => {
      let job = first;
      let sent = seen;
      let quietSince = Date.now();
      while (!stream.aborted) {
        const progress = job.record.status === "running" ? progressAhead(job.record, await readProgress(deps.store, id)) : undefined;
        const revision = job.record.revision;
        if (revision > sent.revision || (revision === sent.revision && progress !== undefined && progress.step > sent.step)) {
          sent = { revision, step: progress?.step ?? 0 };
          quietSince = Date.now();
          const eventId = progress === undefined ? String(revision) : `${revision}.${progress.step}`;
          await stream.writeSSE({ event: "progress", id: eventId, data: JSON.stringify(summarizeJob(job.record, progress)) });
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

/** Last-Event-ID: `<revision>` (a record's event) or `<revision>.<step>` (a progress event); anything else is "nothing seen". */
function parseEventId(header: string | undefined): { revision: number; step: number } {
  const match = /^(\d{1,15})(?:\.(\d{1,15}))?$/.exec(header ?? "");
  if (!match) return { revision: -1, step: 0 };
  return { revision: Number(match[1]), step: match[2] === undefined ? 0 : Number(match[2]) };
}
