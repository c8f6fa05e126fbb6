import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuardedFetch, WebhookUrlRefusedError } from "../../../src/services/webhooks/index.js";

let server: Server;
let port: number;
const received: { headers: IncomingHttpHeaders; body: string; url: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body, url: req.url ?? "" });
      res.writeHead(req.url === "/gone" ? 410 : 204).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const init = (body: string) => ({
  method: "POST" as const,
  headers: { "content-type": "application/json", "webhook-id": "msg_x" },
  body,
  signal: AbortSignal.timeout(5000),
});

describe("createGuardedFetch", () => {
  it("refuses a loopback receiver by default and sends nothing", async () => {
    const before = received.length;
    const fetch = createGuardedFetch({ allowPrivateAddresses: false });
    await expect(fetch(`http://127.0.0.1:${port}/hook`, init("{}"))).rejects.toBeInstanceOf(WebhookUrlRefusedError);
    await expect(fetch(`http://localhost:${port}/hook`, init("{}"))).rejects.toBeInstanceOf(WebhookUrlRefusedError);
    expect(received.length).toBe(before);
  });

  it("posts to a local receiver when configuration allows it, returning the status", async () => {
    const fetch = createGuardedFetch({ allowPrivateAddresses: true });
    expect(await fetch(`http://127.0.0.1:${port}/hook`, init('{"a":1}'))).toEqual({ status: 204 });
    expect(await fetch(`http://127.0.0.1:${port}/gone`, init("{}"))).toEqual({ status: 410 });
    const hook = received.find((r) => r.url === "/hook")!;
    expect(hook.body).toBe('{"a":1}');
    expect(hook.headers["webhook-id"]).toBe("msg_x");
  });

  it("resolves the name once and connects to the address it checked", async () => {
    const lookups: string[] = [];
    // A name the system resolver cannot know: the request can only arrive through the pinned address.
    const fetch = createGuardedFetch({
      allowPrivateAddresses: true,
      resolve: async (host) => (lookups.push(host), ["127.0.0.1"]),
    });
    expect(await fetch(`http://hooks.invalid:${port}/pinned`, init("{}"))).toEqual({ status: 204 });
    expect(lookups).toEqual(["hooks.invalid"]);
    const pinned = received.find((r) => r.url === "/pinned")!;
    expect(pinned.headers.host).toBe(`hooks.invalid:${port}`);
  });

  it("refuses a name that resolves to a private address when private targets are not allowed", async () => {
    const fetch = createGuardedFetch({ allowPrivateAddresses: false, resolve: async () => ["10.0.0.7"] });
    const error = await fetch("https://internal.example.com/", init("{}")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookUrlRefusedError);
    expect((error as WebhookUrlRefusedError).problem).toBe("private_address");
  });
});
