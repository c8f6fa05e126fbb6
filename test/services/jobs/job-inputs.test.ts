/**
 * writeJobInput on every backend: an upload is copied inside the store (Store.copy; neither it nor
 * the copy is read by the caller), bytes from elsewhere are written and read back; an existing
 * copy (a retried create) is accepted only with equal bytes, and a missing upload is reported.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FsStore, MemoryStore, S3Store, type Store, type StoredObject } from "../../../src/ports/store/index.js";
import { jobInputKey, JobInputCopyError, JobInputSourceMissingError, writeJobInput } from "../../../src/services/jobs/index.js";
import { rgwInstalled, rgwRequired, useRgwBucket } from "../../support/rgw.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** Counts the caller's reads and copies, so a test can tell a store-side copy from one through the caller. */
function counting(store: Store): { store: Store; reads: () => number; copies: () => number } {
  let reads = 0;
  let copies = 0;
  const counted: Store = {
    get: async (key): Promise<StoredObject | undefined> => {
      reads++;
      return store.get(key);
    },
    put: (key, body, options) => store.put(key, body, options),
    delete: (key) => store.delete(key),
    list: (prefix, options) => store.list(prefix, options),
    copy: (from, to, options) => {
      copies++;
      return store.copy(from, to, options);
    },
  };
  return { store: counted, reads: () => reads, copies: () => copies };
}

const equalBytes = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

function describeJobInputs(name: string, makeStore: () => Store): void {
  describe(`writeJobInput on ${name}`, () => {
    const bytes = new Uint8Array(randomBytes(70_000));

    it("copies an upload inside the store: one copy, no read of the upload or the copy", async () => {
      const { store, reads, copies } = counting(makeStore());
      await store.put("uploads/t/upl_a", bytes, { ifNoneMatch: "*", contentType: "image/png" });
      const key = await writeJobInput(store, "inv_a", 0, { key: "uploads/t/upl_a" });
      expect(key).toBe("jobs/inv_a/inputs/000");
      expect([reads(), copies()]).toEqual([0, 1]);
      expect(equalBytes((await store.get(key))?.body, bytes)).toBe(true);
    });

    it("reports an upload that is gone (JobInputSourceMissingError) and writes no copy", async () => {
      const store = makeStore();
      await expect(writeJobInput(store, "inv_m", 0, { key: "uploads/t/upl_gone" })).rejects.toBeInstanceOf(JobInputSourceMissingError);
      expect(await store.get(jobInputKey("inv_m", 0))).toBeUndefined();
      expect((await store.list("jobs/")).entries).toEqual([]);
    });

    it("copies bytes from elsewhere, verified by reading them back", async () => {
      const { store, reads } = counting(makeStore());
      const key = await writeJobInput(store, "inv_b", 7, { bytes });
      expect(key).toBe(jobInputKey("inv_b", 7));
      expect(reads()).toBe(1);
      expect(equalBytes((await store.get(key))?.body, bytes)).toBe(true);
    });

    it("accepts an existing copy with the same bytes (a retried create) and refuses one with other bytes, from an upload or from bytes", async () => {
      const store = makeStore();
      const other = bytes.slice();
      other[12_345]! ^= 1;
      await store.put("uploads/t/upl_c", bytes);
      await store.put("uploads/t/upl_other", other);
      await writeJobInput(store, "inv_c", 0, { key: "uploads/t/upl_c" });
      expect(await writeJobInput(store, "inv_c", 0, { key: "uploads/t/upl_c" })).toBe(jobInputKey("inv_c", 0));
      expect(await writeJobInput(store, "inv_c", 0, { bytes })).toBe(jobInputKey("inv_c", 0));
      await expect(writeJobInput(store, "inv_c", 0, { key: "uploads/t/upl_other" })).rejects.toBeInstanceOf(JobInputCopyError);
      await expect(writeJobInput(store, "inv_c", 0, { bytes: other })).rejects.toBeInstanceOf(JobInputCopyError);
      expect(equalBytes((await store.get(jobInputKey("inv_c", 0)))?.body, bytes)).toBe(true);
      // A retry whose upload has gone meanwhile is told so, even though a copy exists.
      await store.delete("uploads/t/upl_c");
      await expect(writeJobInput(store, "inv_c", 0, { key: "uploads/t/upl_c" })).rejects.toBeInstanceOf(JobInputSourceMissingError);
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
