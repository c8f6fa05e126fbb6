/**
 * `npm run bench -- api`: the status endpoint under a bounded load test on loopback.
 *
 * 1. A real job record: the embedded server (`dvar serve`'s startEmbeddedServer, filesystem
 *    store in a temporary folder, in-process slices) gets an API key and a synthetic job
 *    (POST /v1/inversions), which runs to its end; then that server is closed.
 * 2. The API app (createApi, the same routes and middleware) over the same filesystem store,
 *    served by @hono/node-server on 127.0.0.1, with one extra route, GET /healthz ("ok"), as
 *    the reference: the same server, transport and load, without auth, store reads and JSON.
 *    Its dispatcher refuses work (a GET never dispatches), so nothing else runs meanwhile.
 * 3. `--runs` rounds, each a load test of `--requests` requests over `--connections`
 *    keep-alive connections against /healthz and then GET /v1/inversions/{id}
 *    (load-client.ts, in a worker thread); medians over rounds.
 */
import { serve, type ServerType } from "@hono/node-server";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApi } from "../handlers/api.js";
import { FsStore } from "../ports/store/index.js";
import { startEmbeddedServer } from "../server/embedded.js";
import { ApiKeyRegistry } from "../services/auth/index.js";
import { defaultModelCatalog } from "../services/models/model-catalog.js";
import { runsFlag, type FlagSpec, type FlagValues } from "./flags.js";
import { runLoadTest, type LoadResult } from "./load-client.js";
import { ms, ratio, type BenchReport } from "./report.js";
import { median, percentile } from "./timing.js";

export const apiFlags: FlagSpec[] = [
  runsFlag(3),
  { kind: "int", name: "warmup", default: 500, min: 0, max: 1_000_000, help: "untimed requests to each route before timing" },
  { kind: "int", name: "connections", default: 10, min: 1, max: 1000, help: "concurrent keep-alive connections" },
  { kind: "int", name: "requests", default: 5000, min: 1, max: 10_000_000, help: "requests per route per run" },
  { kind: "int", name: "job-max-steps", default: 2000, min: 1, max: 100_000, help: "max_steps of the synthetic job whose record is read (DVAR stops it earlier)" },
];

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

/** Creates a key and a synthetic job through the embedded server and waits for the job to end. */
async function makeJob(storeDir: string, maxSteps: number): Promise<{ key: string; id: string; status: string; step: number }> {
  const server = await startEmbeddedServer({ port: 0, host: "127.0.0.1", env: { DVAR_STORE: "fs", DVAR_STORE_DIR: storeDir }, log: () => {} });
  try {
    const { key } = await new ApiKeyRegistry(server.store).issue("bench", "bench");
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const created = await fetch(`${server.url}/v1/inversions`, {
      method: "POST",
      headers: { ...headers, "idempotency-key": "bench-1" },
      body: JSON.stringify({ objective: "synthetic", seed: 1, max_steps: maxSteps }),
    });
    if (created.status !== 202) throw new Error(`POST /v1/inversions answered ${created.status}: ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };
    for (let polls = 0; ; polls++) {
      const job = (await (await fetch(`${server.url}/v1/inversions/${id}`, { headers })).json()) as { status: string; step: number };
      if (TERMINAL.has(job.status)) return { key, id, status: job.status, step: job.step };
      if (polls > 1200) throw new Error(`job ${id} did not finish within 2 minutes (status ${job.status})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await server.close();
  }
}

interface RouteStats {
  throughput: number;
  p50: number;
  p99: number;
  bodyBytes: number;
}

const statsOf = (r: LoadResult, requests: number): RouteStats => ({
  throughput: (requests * 1000) / r.elapsedMs,
  p50: percentile(r.latenciesMs, 50),
  p99: percentile(r.latenciesMs, 99),
  bodyBytes: r.bodyBytes,
});

export async function benchApi(v: FlagValues): Promise<Omit<BenchReport, "command" | "environment">> {
  const runs = Number(v.runs), warmup = Number(v.warmup), connections = Number(v.connections), requests = Number(v.requests);
  const storeDir = mkdtempSync(join(tmpdir(), "dvar-bench-api-"));
  let server: ServerType | undefined;
  try {
    const job = await makeJob(storeDir, Number(v["job-max-steps"]));
    const store = new FsStore({ root: storeDir });
    const refuse = async (): Promise<never> => {
      throw new Error("the api bench dispatches nothing");
    };
    const app = createApi(
      { store, dispatcher: { dispatch: refuse }, keys: new ApiKeyRegistry(store), models: defaultModelCatalog(), webhookPolicy: { allowPrivateAddresses: false } },
      { logError: (error) => process.stderr.write(`api bench: request error ${String(error)}\n`) },
    );
    app.get("/healthz", (c) => c.text("ok"));
    server = await new Promise<ServerType>((ready) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready(started));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const routes = {
      healthz: { url: `${base}/healthz`, headers: {} },
      status: { url: `${base}/v1/inversions/${job.id}`, headers: { authorization: `Bearer ${job.key}` } },
    };
    const check = await fetch(routes.status.url, { headers: routes.status.headers });
    const body = (await check.json()) as { id?: string; status?: string };
    if (check.status !== 200 || body.id !== job.id) throw new Error(`GET ${routes.status.url} answered ${check.status} ${JSON.stringify(body).slice(0, 200)}`);

    const results: Record<keyof typeof routes, RouteStats[]> = { healthz: [], status: [] };
    for (let run = -1; run < runs; run++) {
      for (const name of Object.keys(routes) as Array<keyof typeof routes>) {
        const n = run < 0 ? warmup : requests;
        if (n === 0) continue;
        const r = await runLoadTest({ ...routes[name], connections, requests: n });
        if (r.non200 > 0 || r.errors > 0) throw new Error(`${name}: ${r.non200} answers other than 200 and ${r.errors} errors in ${n} requests`);
        if (run >= 0) results[name].push(statsOf(r, n));
      }
    }
    const summary = (name: keyof typeof routes) => {
      const rs = results[name];
      return { throughput: median(rs.map((r) => r.throughput)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), bodyBytes: rs[rs.length - 1]!.bodyBytes };
    };
    const healthz = summary("healthz"), status = summary("status");
    const row = (label: string, s: ReturnType<typeof summary>, ref: ReturnType<typeof summary> | null) => [
      label,
      s.throughput.toFixed(0),
      ms(s.p50),
      ms(s.p99),
      String(s.bodyBytes),
      ref ? ratio(s.throughput / ref.throughput) : "1",
      ref ? ratio(s.p50 / ref.p50) : "1",
      ref ? ratio(s.p99 / ref.p99) : "1",
    ];
    return {
      bench: "api",
      ratios: { statusOverHealthzThroughput: status.throughput / healthz.throughput, statusOverHealthzP50: status.p50 / healthz.p50, statusOverHealthzP99: status.p99 / healthz.p99 },
      tables: [
        {
          title: `GET on 127.0.0.1, ${requests} requests x ${connections} connections per run (medians of ${runs} runs)`,
          columns: ["route", "requests/s", "p50", "p99", "body bytes", "throughput vs healthz", "p50 vs healthz", "p99 vs healthz"],
          rows: [row("GET /healthz (reference)", healthz, null), row("GET /v1/inversions/{id}", status, healthz)],
        },
      ],
      notes: [
        `job ${job.id}: synthetic, ${job.status} at step ${job.step}, filesystem store; the status answer decodes its checkpoint and lists its usage records`,
        `load client in a worker thread of the same process (node:http keep-alive); ${warmup} warm-up requests per route`,
      ],
      details: { job: { id: job.id, status: job.status, step: job.step }, healthz, status, runs: results, connections, requests },
    };
  } finally {
    if (server) {
      const closing = new Promise<void>((done) => server!.close(() => done()));
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closing;
    }
    rmSync(storeDir, { recursive: true, force: true });
  }
}
