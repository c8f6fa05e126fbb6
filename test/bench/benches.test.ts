/**
 * Each benchmark end to end with a tiny configuration: well-formed output (command, load,
 * tables, finite ratios, what was measured). No assertion on any time: speed is measured by
 * `npm run bench`, not by tests.
 */
import { describe, expect, it } from "vitest";
import { main, type BenchOutput } from "../../src/bench/main.js";
import type { BenchReport } from "../../src/bench/report.js";

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const out: BenchOutput = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  const code = await main(argv, out);
  return { code, stdout, stderr };
}

async function report(argv: string[]): Promise<BenchReport> {
  const { code, stdout, stderr } = await run([...argv, "--json"]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const r = JSON.parse(stdout) as BenchReport;
  expect(r.bench).toBe(argv[0]);
  expect(r.command.startsWith(`npm run bench -- ${argv[0]} `)).toBe(true);
  for (let i = 1; i < argv.length; i += 2) expect(r.command).toContain(`${argv[i]} ${argv[i + 1]}`);
  expect(r.environment.loadBefore).toHaveLength(3);
  expect(r.environment.loadAfter).toHaveLength(3);
  for (const [name, value] of Object.entries(r.ratios)) expect(Number.isFinite(value), name).toBe(true);
  for (const t of r.tables) for (const row of t.rows) expect(row).toHaveLength(t.columns.length);
  return r;
}

const MODEL_FINGERPRINT = /^[0-9a-f]{64}$/;
const SLOW = 600_000; // the machine is shared; nothing here is timed

describe("npm run bench", () => {
  it("--help lists every bench and its flags", async () => {
    const { code, stdout } = await run(["--help"]);
    expect(code).toBe(0);
    for (const name of ["step", "slice", "overhead", "api"]) expect(stdout).toContain(`  ${name}: `);
    for (const flag of ["--runs", "--warmup", "--threads", "--steps", "--from-step", "--eval-batches", "--every", "--connections", "--requests"]) expect(stdout).toContain(flag);
  });

  it("exits 2 with a message on a missing or unknown bench and on bad flags", async () => {
    for (const argv of [[], ["nope"], ["slice", "--runs", "0"], ["overhead", "--every", "0"], ["api", "--connections", "x"], ["api", "--bogus"], ["overhead", "--every", "5", "--slice-steps", "3"]]) {
      const { code, stdout, stderr } = await run(argv);
      expect(code, argv.join(" ")).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/benchmark|must be|must not exceed|Unknown option/);
    }
  });

  it("slice: checkpoint round trips on both stores, cached vs re-encoded latents on the same batch", { timeout: SLOW }, async () => {
    const r = await report(["slice", "--runs", "1", "--warmup", "1", "--threads", "1", "--steps", "2", "--from-step", "1", "--latent-steps", "1"]);
    expect(Object.keys(r.ratios).sort()).toEqual(["cachedOverReencodedStep", "cachedOverReencodedStepCpu", "checkpointFsOverSlice", "checkpointMemoryOverSlice", "vaeEncodeOverCachedStepCpu"]);
    for (const value of Object.values(r.ratios)) expect(value).toBeGreaterThan(0);
    const d = r.details as { model: { fingerprint: string }; slice: { steps: number; fromStep: number; checkpointBytes: number }; latents: { cachedLoss: number; lossRelativeDifference: number } };
    expect(d.model.fingerprint).toMatch(MODEL_FINGERPRINT);
    expect(d.slice).toMatchObject({ steps: 2, fromStep: 1 });
    expect(d.slice.checkpointBytes).toBeGreaterThan(0);
    // Both ways train on the same batch: the VAE run in a batch of 4 vs one image at a time differs only by rounding.
    expect(Number.isFinite(d.latents.cachedLoss)).toBe(true);
    expect(d.latents.lossRelativeDifference).toBeLessThan(1e-4);
    expect(r.tables.map((t) => t.rows.length)).toEqual([2, 3]);
  });

  it("overhead: eval at each batch size vs a step, and slices with L_det every k steps", { timeout: SLOW }, async () => {
    const r = await report(["overhead", "--runs", "1", "--warmup", "1", "--threads", "1", "--eval-batches", "4,1", "--every", "1,3", "--slice-steps", "3"]);
    expect(Object.keys(r.ratios).sort()).toEqual(["eval1OverStep", "eval4OverStep", "every1Overhead", "every3Overhead"]);
    expect(r.ratios.eval4OverStep).toBeGreaterThan(0);
    const d = r.details as { model: { fingerprint: string }; every: Array<{ k: number; evaluationsPerSlice: number }> };
    expect(d.model.fingerprint).toMatch(MODEL_FINGERPRINT);
    // 3 updates: L_det after each with k = 1, after the third only with k = 3.
    expect(d.every.map((e) => [e.k, e.evaluationsPerSlice])).toEqual([[1, 3], [3, 1]]);
    expect(r.tables.map((t) => t.rows.length)).toEqual([2, 2]);
  });

  it("api: status endpoint and /healthz under a bounded load, as text and JSON", { timeout: SLOW }, async () => {
    const argv = ["api", "--runs", "1", "--warmup", "5", "--connections", "2", "--requests", "20", "--job-max-steps", "300"];
    const r = await report(argv);
    expect(Object.keys(r.ratios).sort()).toEqual(["statusOverHealthzP50", "statusOverHealthzP99", "statusOverHealthzThroughput"]);
    for (const value of Object.values(r.ratios)) expect(value).toBeGreaterThan(0);
    const d = r.details as { job: { status: string; step: number }; status: { bodyBytes: number }; healthz: { bodyBytes: number } };
    expect(d.job.status).toBe("succeeded");
    expect(d.job.step).toBeGreaterThan(0);
    expect(d.healthz.bodyBytes).toBe(2);
    expect(d.status.bodyBytes).toBeGreaterThan(100);

    const text = await run(argv);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\$ npm run bench -- api --runs 1 --warmup 5 --connections 2 --requests 20 --job-max-steps 300\n/);
    expect(text.stdout).toMatch(/load average [\d. ]+ before/);
    expect(text.stdout).toContain("| GET /v1/inversions/{id}");
  });
});
