import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";

/**
 * Starts Ceph's RADOS Gateway for a test file (test/support/ceph-rgw.sh does the work).
 * Where Ceph is not installed the S3 tests cannot run; under CI=true that is an error, so CI
 * always exercises the S3 store against a real implementation with conditional writes.
 */
const run = promisify(execFile);
const SCRIPT = resolve("test/support/ceph-rgw.sh");
const BINARIES = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"];

export interface Rgw {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  stop(): Promise<void>;
}

export const rgwRequired = process.env.CI === "true";

/** Whether every Ceph binary the script needs is on PATH. */
export function rgwInstalled(): boolean {
  const probe = spawnSync("sh", ["-c", BINARIES.map((b) => `command -v ${b}`).join(" && ")], { stdio: "ignore" });
  return probe.status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/**
 * A single-node Ceph occasionally fails its first start on a loaded 2-core machine (the OSD
 * racing the monitor); that is the test bed failing, not the store under test, so a start is
 * tried up to three times on fresh ports and folders before the error is reported.
 */
export async function startRgw(): Promise<Rgw> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startRgwOnce();
    } catch (error) {
      failures.push(`attempt ${attempt}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(failures.join("\n"));
}

async function startRgwOnce(): Promise<Rgw> {
  const dir = mkdtempSync(join(tmpdir(), "ceph-rgw-"));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  let stdout: string;
  try {
    ({ stdout } = await run(SCRIPT, ["start", dir, String(monPort), String(rgwPort), String(process.pid)], {
      timeout: 60_000,
    }));
  } catch (error) {
    await run(SCRIPT, ["stop", dir]).catch(() => undefined);
    const detail = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`Ceph RGW did not start: ${detail.trim()}`);
  }
  const env = Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.split("=", 2) as [string, string]),
  );
  if (!env.S3_ENDPOINT || !env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY) {
    throw new Error(`ceph-rgw.sh printed no endpoint: ${stdout}`);
  }
  return {
    endpoint: env.S3_ENDPOINT,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    stop: async () => {
      await run(SCRIPT, ["stop", dir]);
    },
  };
}

/** A path-style S3 client for the gateway, with its credentials. */
export function rgwClient(rgw: Rgw): S3Client {
  return new S3Client({ endpoint: rgw.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
}

/**
 * For the enclosing suite: a gateway started before its tests (stopped after) and a fresh bucket
 * `<prefix>-<random>` in it. The gateway is read through `rgw()` once the hooks have run.
 */
export function useRgwBucket(prefix: string): { readonly bucket: string; rgw(): Rgw } {
  const bucket = `${prefix}-${randomBytes(4).toString("hex")}`;
  let started: Rgw | undefined;
  beforeAll(async () => {
    started = await startRgw();
    await rgwClient(started).send(new CreateBucketCommand({ Bucket: bucket }));
  }, 200_000);
  afterAll(async () => {
    await started?.stop();
  }, 30_000);
  return {
    bucket,
    rgw: () => {
      if (!started) throw new Error("the gateway is not started yet (use it inside tests or hooks)");
      return started;
    },
  };
}
