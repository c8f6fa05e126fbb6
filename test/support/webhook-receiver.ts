/** A webhook receiver on 127.0.0.1 for tests, whose answers are scripted. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly answered: number;
}

/** A receiver whose answers are scripted: `failures` non-2xx answers first, then 204. */
export class Receiver {
  readonly received: Received[] = [];
  failures = 0;
  private server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const answered = this.failures > 0 ? 503 : 204;
        if (this.failures > 0) this.failures--;
        this.received.push({ headers: req.headers as Record<string, string>, body, answered });
        res.statusCode = answered;
        res.end();
      });
    });
    await new Promise<void>((ready) => this.server.listen(0, "127.0.0.1", ready));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  types(): string[] {
    return this.received.filter((r) => r.answered === 204).map((r) => (JSON.parse(r.body) as { type: string }).type);
  }

  close(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }
}
