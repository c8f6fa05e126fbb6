/**
 * HTTP dispatch (src/ports/dispatcher/http): the HttpDispatcher against the real receiver route
 * on 127.0.0.1, signatures checked with the standardwebhooks reference package, and every way a
 * request can be refused.
 */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { createApiApp } from "../../../src/handlers/app.js";
import { registerDispatchReceiver } from "../../../src/handlers/dispatch-receive.js";
import { DispatchError, InProcessDispatcher, parseDispatcherConfig, type Dispatcher, type SliceInvocation } from "../../../src/ports/dispatcher/index.js";
import { HttpDispatcher, type DispatchFetch } from "../../../src/ports/dispatcher/http/http-dispatcher.js";
import { DISPATCH_PATH, DISPATCH_TOLERANCE_SECONDS, parseDispatchSecrets, ReplayGuard, signDispatch } from "../../../src/ports/dispatcher/http/protocol.js";
import { generateWebhookSecret } from "../../../src/core/signing/index.js";

const SECRET = generateWebhookSecret();
const OTHER = generateWebhookSecret();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The receiver route on a real HTTP server; `dispatcher` gets what it verifies. */
async function startReceiver(dispatcher: Pick<Dispatcher, "dispatch">, options: { now?: () => number; secrets?: string[] } = {}) {
  const app = createApiApp();
  const refused: string[] = [];
  registerDispatchReceiver(app, { secrets: options.secrets ?? [SECRET], dispatcher, ...(options.now ? { now: options.now } : {}), log: (line) => refused.push(line) });
  const server = await new Promise<ServerType>((ready) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready(s));
  });
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${DISPATCH_PATH}`, refused };
}

/** A dispatcher whose slices wait until released, so a second dispatch finds the first pending. */
function heldDispatcher() {
  const ran: SliceInvocation[] = [];
  let release!: () => void;
  const gate = new Promise<void>((done) => (release = done));
  const dispatcher = new InProcessDispatcher({ runSlice: async (invocation) => { ran.push(invocation); await gate; } });
  cleanups.push(async () => { release(); await dispatcher.close(); });
  return { dispatcher, ran, release };
}

function post(url: string, body: string, headers: Record<string, string>) {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

describe("HttpDispatcher -> receiver -> in-process dispatcher", () => {
  it("hands the slice to the receiver's dispatcher and returns its receipt; a repeat is reported as a duplicate", async () => {
    const held = heldDispatcher();
    const { url } = await startReceiver(held.dispatcher);
    const http = new HttpDispatcher({ url, secrets: [SECRET] });
    const first = await http.dispatch({ jobId: "inv_abc", slice: 3 });
    expect(first).toEqual({ jobId: "inv_abc", slice: 3, dispatcher: "inprocess", duplicate: false, ref: "inv_abc/3" });
    const again = await http.dispatch({ jobId: "inv_abc", slice: 3 });
    expect(again.duplicate).toBe(true);
    await expect.poll(() => held.ran).toEqual([{ jobId: "inv_abc", slice: 3 }]);
  });

  it("signs as Standard Webhooks: the reference package verifies what it sends", async () => {
    const sent: Array<{ headers: Record<string, string>; body: string }> = [];
    const fetch: DispatchFetch = async (_url, init) => {
      sent.push({ headers: init.headers, body: init.body });
      return Response.json({ jobId: "inv_x", slice: 0, dispatcher: "modal", duplicate: false, ref: "sb-1" }, { status: 202 });
    };
    const receipt = await new HttpDispatcher({ url: "https://node.example/internal/dispatch", secrets: [SECRET], fetch }).dispatch({ jobId: "inv_x", slice: 0 });
    expect(receipt).toEqual({ jobId: "inv_x", slice: 0, dispatcher: "modal", duplicate: false, ref: "sb-1" });
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!.body)).toEqual({ jobId: "inv_x", slice: 0 });
    expect(new Webhook(SECRET).verify(sent[0]!.body, sent[0]!.headers)).toEqual({ jobId: "inv_x", slice: 0 });
    expect(() => new Webhook(OTHER).verify(sent[0]!.body, sent[0]!.headers)).toThrow();
  });

  it("retries network errors and 5xx with a fresh id each time, and gives up on other 4xx at once", async () => {
    const ids: string[] = [];
    const answers: Array<() => Response> = [
      () => { throw new TypeError("fetch failed"); },
      () => Response.json({ code: "service_unavailable" }, { status: 503 }),
      () => Response.json({ jobId: "inv_r", slice: 1, dispatcher: "inprocess", duplicate: false }, { status: 202 }),
    ];
    const slept: number[] = [];
    const fetch: DispatchFetch = async (_url, init) => {
      ids.push(init.headers["webhook-id"]!);
      return answers.shift()!();
    };
    const http = new HttpDispatcher({ url: "https://node.example/internal/dispatch", secrets: [SECRET], fetch, sleep: async (ms) => void slept.push(ms) });
    expect((await http.dispatch({ jobId: "inv_r", slice: 1 })).dispatcher).toBe("inprocess");
    expect(new Set(ids).size).toBe(3);
    expect(slept).toEqual([250, 1000]);

    let calls = 0;
    const unauthorized = new HttpDispatcher({
      url: "https://node.example/internal/dispatch",
      secrets: [SECRET],
      fetch: async () => (calls++, Response.json({ code: "unauthorized" }, { status: 401 })),
      sleep: async () => {},
    });
    await expect(unauthorized.dispatch({ jobId: "inv_r", slice: 1 })).rejects.toThrow(/HTTP 401 \(unauthorized\)/);
    expect(calls).toBe(1);
  });

  it("refuses a 2xx whose receipt names another slice, and anything after close", async () => {
    const fetch: DispatchFetch = async () => Response.json({ jobId: "inv_other", slice: 0, dispatcher: "inprocess", duplicate: false }, { status: 202 });
    const http = new HttpDispatcher({ url: "https://node.example/internal/dispatch", secrets: [SECRET], fetch });
    await expect(http.dispatch({ jobId: "inv_mine", slice: 0 })).rejects.toBeInstanceOf(DispatchError);
    await http.close();
    await expect(http.dispatch({ jobId: "inv_mine", slice: 0 })).rejects.toThrow(/closed/);
    await expect(http.dispatch({ jobId: "../etc", slice: 0 })).rejects.toThrow(/invalid slice invocation/);
  });
});

describe("the receiver refuses", () => {
  const body = JSON.stringify({ jobId: "inv_abc", slice: 0 });

  it("a wrong secret, a tampered body, a stale or future timestamp, and missing headers (401, nothing dispatched)", async () => {
    const held = heldDispatcher();
    const { url, refused } = await startReceiver(held.dispatcher);
    const now = Date.now();
    const cases: Array<[string, string, Record<string, string>]> = [
      ["wrong secret", body, signDispatch(body, [OTHER], now)],
      ["tampered body", JSON.stringify({ jobId: "inv_abc", slice: 1 }), signDispatch(body, [SECRET], now)],
      ["stale", body, signDispatch(body, [SECRET], now - (DISPATCH_TOLERANCE_SECONDS + 5) * 1000)],
      ["future", body, signDispatch(body, [SECRET], now + (DISPATCH_TOLERANCE_SECONDS + 5) * 1000)],
      ["unsigned", body, {}],
    ];
    for (const [name, sentBody, headers] of cases) {
      const response = await post(url, sentBody, headers);
      expect(response.status, name).toBe(401);
      expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect(((await response.json()) as { code: string }).code).toBe("unauthorized");
    }
    expect(refused).toHaveLength(cases.length);
    expect(refused.join("\n")).not.toContain(SECRET);
    expect(held.dispatcher.size).toBe(0);
  });

  it("a replay of a request it accepted", async () => {
    const held = heldDispatcher();
    const { url } = await startReceiver(held.dispatcher);
    const headers = signDispatch(body, [SECRET], Date.now());
    expect((await post(url, body, headers)).status).toBe(202);
    const replay = await post(url, body, headers);
    expect(replay.status).toBe(401);
  });

  it("a signed body that is not a slice invocation (400), a non-JSON type (415), a large body (413)", async () => {
    const held = heldDispatcher();
    const { url } = await startReceiver(held.dispatcher);
    const bad = JSON.stringify({ jobId: "inv_abc", slice: -1 });
    const badAnswer = await post(url, bad, signDispatch(bad, [SECRET], Date.now()));
    expect(badAnswer.status).toBe(400);
    expect(((await badAnswer.json()) as { code: string }).code).toBe("bad_request");
    const text = await fetch(url, { method: "POST", headers: { "content-type": "text/plain", ...signDispatch(body, [SECRET], Date.now()) }, body });
    expect(text.status).toBe(415);
    const big = JSON.stringify({ jobId: "inv_abc", slice: 0, pad: "x".repeat(8000) });
    expect((await post(url, big, signDispatch(big, [SECRET], Date.now()))).status).toBe(413);
    expect(held.dispatcher.size).toBe(0);
  });

  it("answers 503 when its own dispatcher cannot start the slice", async () => {
    const failing = { dispatch: async () => { throw new DispatchError("Modal said no"); } };
    const { url } = await startReceiver(failing);
    const response = await post(url, body, signDispatch(body, [SECRET], Date.now()));
    expect(response.status).toBe(503);
    expect(JSON.stringify(await response.json())).not.toContain("Modal said no");
  });

  it("accepts any of several secrets during a rotation", async () => {
    const held = heldDispatcher();
    const { url } = await startReceiver(held.dispatcher, { secrets: parseDispatchSecrets(`${SECRET}, ${OTHER}`) });
    expect((await post(url, body, signDispatch(body, [OTHER], Date.now()))).status).toBe(202);
  });
});

describe("protocol pieces", () => {
  it("parseDispatchSecrets takes whsec_ secrets only and never echoes one", () => {
    expect(parseDispatchSecrets(`${SECRET} ${OTHER}`)).toEqual([SECRET, OTHER]);
    expect(() => parseDispatchSecrets("")).toThrow(/empty/);
    expect(() => parseDispatchSecrets("hunter2-plain-password")).toThrow(/secret 1 is not usable/);
    try {
      parseDispatchSecrets(`${SECRET},whsec_short`);
    } catch (error) {
      expect((error as Error).message).toMatch(/secret 2/);
      expect((error as Error).message).not.toContain("whsec_short");
    }
  });

  it("ReplayGuard forgets ids once their timestamps can no longer verify", () => {
    const guard = new ReplayGuard();
    const t = 1_700_000_000;
    expect(guard.firstUse("a", t, t * 1000)).toBe(true);
    expect(guard.firstUse("a", t, t * 1000 + 1000)).toBe(false);
    expect(guard.firstUse("b", t + 10, (t + DISPATCH_TOLERANCE_SECONDS + 2) * 1000)).toBe(true);
    expect(guard.size).toBe(1);
  });

  it("the dispatch secret of a receiving Node process is not forwarded into Modal sandboxes", () => {
    const config = parseDispatcherConfig({
      DVAR_DISPATCHER: "modal",
      DVAR_STORE: "s3",
      DVAR_S3_BUCKET: "dvar-jobs",
      DVAR_MODAL_GIT_URL: "https://github.com/example/dvar.git",
      DVAR_MODAL_GIT_COMMIT: "0123456789abcdef0123456789abcdef01234567",
      DVAR_DISPATCH_SECRET: SECRET,
    });
    expect(config.kind).toBe("modal");
    expect(config.kind === "modal" && config.env).not.toHaveProperty("DVAR_DISPATCH_SECRET");
    expect(config.kind === "modal" && config.env.DVAR_S3_BUCKET).toBe("dvar-jobs");
  });
});

