/** The SSE stream over real HTTP (@hono/node-server), read incrementally while slices advance the job. */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { JobStore } from "../../../src/services/jobs/index.js";
import { defaultObjectives, StoreSliceService, syntheticObjectiveFactory, type ObjectiveFactory } from "../../../src/services/slices/index.js";
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
    // The claim (revision 1), progress within it (1.<step>, if the slice took over 2 s) and the
    // advance (2) may land within one poll: the stream shows the latest.
    let event = await events.next();
    while (event?.id?.startsWith("1")) event = await events.next();
    expect(event).toMatchObject({ event: "progress", id: "2" });
    expect(JSON.parse(event!.data)).toMatchObject({ status: "running", step: 40 });

    await slices.run({ jobId: id, slice: 1 });
    // The slice's lease (revision 3) and its advance (4), likewise.
    event = await events.next();
    while (event?.id === "3" || event?.id?.startsWith("2.") || event?.id?.startsWith("3.")) event = await events.next();
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

  it("shows a running slice's steps, losses and DVAR ratio before the slice ends (progress between checkpoints)", async () => {
    const h = await createHarness({ runSlices: false });
    const base = await listen(h.app);
    const body = syntheticBody({ max_steps: 30, stopping: { name: "dvar", window: 5, threshold: 1e-9 } });
    const { id } = (await (await h.post("/v1/inversions", body)).json()) as { id: string };

    // The objective holds update 12 until released: the slice is half-way and has no checkpoint yet.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    const held: ObjectiveFactory = async (config, jobId) => {
      const prepared = await syntheticObjectiveFactory(config, jobId);
      const inner = prepared.objective;
      const objective = {
        size: inner.size,
        evalLoss: (params: Float32Array) => inner.evalLoss(params),
        trainLossAndGradient: async (step: number, params: Float32Array) => {
          if (step === 12) {
            reached();
            await gate;
          }
          return inner.trainLossAndGradient(step, params);
        },
      };
      return { ...prepared, objective };
    };
    const slices = new StoreSliceService({
      store: h.store,
      dispatcher: { dispatch: async (i) => ({ ...i, dispatcher: "inprocess", duplicate: false }) },
      objectives: held,
      budget: { maxSteps: 30 },
      device: "cpu",
      progress: { everySteps: 1 },
    });
    const running = slices.run({ jobId: id, slice: 0 });
    await atGate;

    const stream = await fetch(`${base}/v1/inversions/${id}/events`, { headers: { authorization: `Bearer ${h.keyA}` } });
    const events = sseReader(stream.body!);
    let event = await events.next();
    // The claim's revision (1), then the published steps, until step 12 (no time limit: the gate holds).
    while (JSON.parse(event!.data).step < 12) event = await events.next();
    expect(event).toMatchObject({ event: "progress", id: "1.12" });
    expect(JSON.parse(event!.data)).toMatchObject({ status: "running", step: 12 });
    const record = (await new JobStore(h.store).read(id))!.record;
    expect(record).toMatchObject({ status: "running", step: 0, checkpoint: null, revision: 1 });

    const got = await h.call(`/v1/inversions/${id}`);
    expect(got.headers.get("etag")).toMatch(/^".+\.12"$/);
    const detail = (await got.json()) as Record<string, any>;
    expect(detail).toMatchObject({ status: "running", step: 12 });
    expect(detail.histories.total_steps).toBe(12);
    expect(detail.histories.step).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(detail.histories.train_loss.every((v: unknown) => typeof v === "number" && Number.isFinite(v))).toBe(true);
    expect(detail.histories.l_det.every((v: unknown) => typeof v === "number")).toBe(true);
    // DVAR's ratio exists from the 5th value on (window 5).
    expect(detail.histories.criterion.slice(0, 4)).toEqual([null, null, null, null]);
    expect(detail.dvar_ratio).toBe(detail.histories.criterion[11]);
    expect(typeof detail.dvar_ratio).toBe("number");

    release();
    expect((await running).kind).toBe("advanced");
    event = await events.next();
    while (event?.id?.startsWith("1.")) event = await events.next();
    expect(event).toMatchObject({ event: "progress", id: "2" });
    expect(JSON.parse(event!.data)).toMatchObject({ status: "succeeded", step: 30 });
    expect(await events.next()).toMatchObject({ event: "done" });
    // The finished job's detail comes from its checkpoint; the stale progress object is ignored.
    const done = (await (await h.call(`/v1/inversions/${id}`)).json()) as Record<string, any>;
    expect(done).toMatchObject({ status: "succeeded", step: 30 });
    expect(done.histories.total_steps).toBe(30);
    expect(await h.store.get(`jobs/${id}/progress.json`)).toBeDefined();
  });

  it("answers 404 problem+json (not a stream) for another tenant's job", async () => {
    const h = await createHarness({ runSlices: false });
    const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
    const response = await h.call(`/v1/inversions/${id}/events`, { key: h.keyB });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe("not_found");
  });
});
