/**
 * writeJobInput on every backend: a copy of an object read from the same store is verified by its
 * ETag alone (equal bytes give equal ETags), a copy of bytes from elsewhere by reading it back;
 * an existing copy (a retried create) is accepted only with equal bytes.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FsStore, MemoryStore, S3Store, type Store, type StoredObject } from "../../../src/ports/store/index.js";
import { jobInputKey, JobInputCopyError, writeJobInput } from "../../../src/services/jobs/index.js";
import { rgwInstalled, rgwRequired, useRgwBucket } from "../../support/rgw.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** Counts reads of the job's inputs, so a test can tell a verification by ETag from one by read-back. */
function countingReads(store: Store): { store: Store; inputReads: () => number } {
  let reads = 0;
  const counted: Store = {
    get: async (key): Promise<StoredObject | undefined> => {
      if (key.includes("/inputs/")) reads++;
      return store.get(key);
    },
    put: (key, body, options) => store.put(key, body, options),
    delete: (key) => store.delete(key),
    list: (prefix, options) => store.list(prefix, options),
  };
  return { store: counted, inputReads: () => reads };
}

function describeJobInputs(name: string, makeStore: () => Store): void {
  describe(`writeJobInput on ${name}`, () => {
    const bytes = new Uint8Array(randomBytes(70_000));

    it("copies an upload read from the store, verified by the ETag alone", async () => {
      const { store, inputReads } = countingReads(makeStore());
      await store.put("uploads/t/upl_a", bytes, { ifNoneMatch: "*", contentType: "image/png" });
      const upload = (await store.get("uploads/t/upl_a"))!;
      const key = await writeJobInput(store, "inv_a", 0, { bytes: upload.body, etag: upload.etag, contentType: "image/png" });
      expect(key).toBe("jobs/inv_a/inputs/000");
      expect(inputReads()).toBe(0);
      expect(Buffer.from((await store.get(key))!.body).equals(Buffer.from(bytes))).toBe(true);
    });

    it("copies bytes from elsewhere, verified by reading them back", async () => {
      const { store, inputReads } = countingReads(makeStore());
      const key = await writeJobInput(store, "inv_b", 7, { bytes });
      expect(key).toBe(jobInputKey("inv_b", 7));
      expect(inputReads()).toBe(1);
      expect(Buffer.from((await store.get(key))!.body).equals(Buffer.from(bytes))).toBe(true);
    });

    it("accepts an existing copy with the same bytes (a retried create) and refuses one with other bytes", async () => {
      const store = makeStore();
      await writeJobInput(store, "inv_c", 0, { bytes });
      expect(await writeJobInput(store, "inv_c", 0, { bytes })).toBe(jobInputKey("inv_c", 0));
      const other = bytes.slice();
      other[12_345]! ^= 1;
      await expect(writeJobInput(store, "inv_c", 0, { bytes: other })).rejects.toBeInstanceOf(JobInputCopyError);
      expect(Buffer.from((await store.get(jobInputKey("inv_c", 0)))!.body).equals(Buffer.from(bytes))).toBe(true);
    });
  });
}

describeJobInputs("MemoryStore", () => new MemoryStore());

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const fsRoot = await mkdtemp(join(tmpdir(), "job-inputs-"));
dirs.push(fsRoot);
let fsCount = 0;
describeJobInputs("FsStore", () => new FsStore({ root: join(fsRoot, String(fsCount++)), fsync: false }));

if (rgwInstalled() || rgwRequired) {
  const gateway = useRgwBucket("inputs");
  describeJobInputs("S3Store on Ceph RGW", () => {
    const rgw = gateway.rgw();
    return new S3Store({
      bucket: gateway.bucket,
      keyPrefix: `t${randomBytes(6).toString("hex")}/`,
      endpoint: rgw.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    });
  });
}
