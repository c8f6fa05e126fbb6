/**
 * A bounded HTTP load generator (autocannon's closed-loop model): `connections` keep-alive
 * connections, each sending its next GET as soon as the previous answer is read, until
 * `requests` requests have been sent. It runs in a worker thread so the client does not
 * share the server's event loop; the worker is plain JavaScript (node:http only), so it
 * runs the same from the compiled build and from the TypeScript sources under vitest.
 */
import { Worker } from "node:worker_threads";

export interface LoadTest {
  url: string;
  headers: Record<string, string>;
  connections: number;
  requests: number;
}

export interface LoadResult {
  /** Per-request latency in milliseconds (send to last byte), ascending. */
  latenciesMs: Float64Array;
  elapsedMs: number;
  /** Answers other than 200, and transport errors. */
  non200: number;
  errors: number;
  /** Body bytes of one answer (the last one). */
  bodyBytes: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, headers, connections, requests } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = new Float64Array(requests);
let sent = 0, non200 = 0, errors = 0, bodyBytes = 0;
function once() {
  return new Promise((done) => {
    const start = process.hrtime.bigint();
    const req = http.get(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on("data", (chunk) => { bytes += chunk.length; });
      res.on("end", () => {
        if (res.statusCode !== 200) non200++;
        bodyBytes = bytes;
        done(Number(process.hrtime.bigint() - start) / 1e6);
      });
      res.on("error", () => { errors++; done(Number(process.hrtime.bigint() - start) / 1e6); });
    });
    req.on("error", () => { errors++; done(Number(process.hrtime.bigint() - start) / 1e6); });
  });
}
async function loop() {
  while (sent < requests) {
    const i = sent++;
    latencies[i] = await once();
  }
}
(async () => {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  agent.destroy();
  latencies.sort();
  parentPort.postMessage({ latenciesMs: latencies, elapsedMs, non200, errors, bodyBytes });
})();
`;

export function runLoadTest(test: LoadTest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: test });
    worker.once("message", (result: LoadResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`load client exited with code ${code}`));
    });
  });
}
