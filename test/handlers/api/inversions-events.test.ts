/** The SSE stream over real HTTP (@hono/node-server), read incrementally while slices advance the job. */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { defaultObjectives, StoreSliceService } from "../../../src/services/slices/index.js";
import { createHarness, problem, syntheticBody } from "./harness.js";

interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads events from a fetch body as they arrive. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(): Promise<SseEvent | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: "message", data: "" };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const [field, ...rest] = line.split(":");
            const value = rest.join(":").replace(/^ /, "");
            if (field === "event") event.event = value;
            if (field === "id") event.id = value;
            if (field === "data") event.data += value;
          }
          if (block.split("\n").every((l) => l.startsWith(":"))) continue;
          return event;
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

let server: ServerType | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

async function listen(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<string> {
  await new Promise<void>((ready) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready());
  });
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe("GET /v1/inversions/{id}/events", () => {
  it("streams a progress event per advance and ends with done", async () => {
    const h = await createHarness({ runSlices: false });
    const base = await listen(h.app);
    const { id } = (await (await h.post("/v1/inversions", syntheticBody({ max_steps: 80, stopping: { name: "fixed", steps: 80 } }))).json()) as { id: string };
    const response = await fetch(`${base}/v1/inversions/${id}/events`, { headers: { authorization: `Bearer ${h.keyA}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = sseReader(response.body!);

    const first = await events.next();
    expect(first).toMatchObject({ event: "progress", id: "0" });
    expect(JSON.parse(first!.data)).toMatchObject({ id, status: "queued", step: 0 });

    const slices = new StoreSliceService({
      store: h.store,
      dispatcher: { dispatch: async (i) => ({ ...i, dispatcher: "inprocess", duplicate: false }) },
      objectives: defaultObjectives(),
      budget: { maxWallMs: 60_000, maxSteps: 40 },
      device: "cpu",
    });
    await slices.run({ jobId: id, slice: 0 });
    // The claim (revision 1) and the advance (2) may land within one poll: the stream shows the latest.
    let event = await events.next();
    if (event?.id === "1") event = await events.next();
    expect(event).toMatchObject({ event: "progress", id: "2" });
    expect(JSON.parse(event!.data)).toMatchObject({ status: "running", step: 40 });

    await slices.run({ jobId: id, slice: 1 });
    // The slice's lease (revision 3) and its advance (4), likewise.
    event = await events.next();
    if (event?.id === "3") event = await events.next();
    expect(event).toMatchObject({ event: "progress", id: "4" });
    expect(JSON.parse(event!.data)).toMatchObject({ status: "succeeded", step: 80 });
    expect(await events.next()).toMatchObject({ event: "done", data: JSON.stringify({ id, status: "succeeded" }) });
    expect(await events.next()).toBeUndefined();

    // Reconnecting after the last seen revision: only the end.
    const again = await fetch(`${base}/v1/inversions/${id}/events`, { headers: { authorization: `Bearer ${h.keyA}`, "last-event-id": "4" } });
    const rest = sseReader(again.body!);
    expect(await rest.next()).toMatchObject({ event: "done" });
    expect(await rest.next()).toBeUndefined();
  });

  it("answers 404 problem+json (not a stream) for another tenant's job", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    const response = await h.call(`/v1/inversions/${id}/events`, { key: h.keyB });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe("not_found");
  });
});
