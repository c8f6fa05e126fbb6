import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { PreconditionFailedError, S3Store, StoreError } from "../../../src/ports/store/index.js";

/**
 * What S3Store sends and how it reads answers that Ceph RGW does not produce (AWS S3's 409
 * and 404 for conditional writes). Runs everywhere; the RGW suite covers real behaviour.
 */
function stubbed(answer: (command: unknown) => unknown) {
  const sent: unknown[] = [];
  const client = {
    send: async (command: unknown) => {
      sent.push(command);
      return answer(command);
    },
  } as unknown as S3Client;
  return { sent, client };
}

const sdkError = (name: string, status: number) => Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode: status } });
const body = new TextEncoder().encode("x");

describe("S3Store requests and error mapping", () => {
  it("sends conditional headers, the key prefix and an unquoted If-Match by default", async () => {
    const { sent, client } = stubbed(() => ({ ETag: '"abc"' }));
    const store = new S3Store({ bucket: "b", keyPrefix: "prod/", client });
    expect(await store.put("jobs/1", body, { ifNoneMatch: "*" })).toEqual({ etag: "abc" });
    await store.put("jobs/1", body, { ifMatch: "abc" });
    const quoted = new S3Store({ bucket: "b", client, ifMatchForm: "quoted" });
    await quoted.put("jobs/1", body, { ifMatch: "abc" });
    const inputs = sent.map((c) => (c as PutObjectCommand).input);
    expect(sent.every((c) => c instanceof PutObjectCommand)).toBe(true);
    expect(inputs[0]).toMatchObject({ Bucket: "b", Key: "prod/jobs/1", IfNoneMatch: "*", ContentLength: 1 });
    expect(inputs[0]!.IfMatch).toBeUndefined();
    expect(inputs[1]).toMatchObject({ Key: "prod/jobs/1", IfMatch: "abc" });
    expect(inputs[2]).toMatchObject({ Key: "jobs/1", IfMatch: '"abc"' });
  });

  it("maps 412, AWS's 409 for a concurrent conditional write and its 404 for If-Match on a missing object to PreconditionFailedError", async () => {
    for (const [name, status, options] of [
      ["PreconditionFailed", 412, { ifNoneMatch: "*" as const }],
      ["ConditionalRequestConflict", 409, { ifMatch: "abc" }],
      ["NoSuchKey", 404, { ifMatch: "abc" }],
    ] as const) {
      const { client } = stubbed(() => {
        throw sdkError(name, status);
      });
      await expect(new S3Store({ bucket: "b", client }).put("k", body, options), name).rejects.toBeInstanceOf(PreconditionFailedError);
    }
  });

  it("answers undefined only for a missing object, and wraps other failures without the service's message", async () => {
    const missingKey = stubbed(() => {
      throw sdkError("NoSuchKey", 404);
    });
    expect(await new S3Store({ bucket: "b", client: missingKey.client }).get("k")).toBeUndefined();
    await new S3Store({ bucket: "b", client: missingKey.client }).delete("k");
    for (const [name, status] of [["NoSuchBucket", 404], ["AccessDenied", 403], ["InternalError", 500]] as const) {
      const { client } = stubbed(() => {
        throw sdkError(name, status);
      });
      const error = (await new S3Store({ bucket: "b", client }).get("k").catch((e: unknown) => e)) as StoreError;
      expect(error, name).toBeInstanceOf(StoreError);
      expect(error, name).not.toBeInstanceOf(PreconditionFailedError);
      expect(error.message).toBe(`S3 get "k" failed: ${name} (HTTP ${status})`);
      expect((error.cause as Error).name).toBe(name);
    }
  });

  it("strips the key prefix from listings and passes the continuation token on", async () => {
    const { sent, client } = stubbed(() => ({
      Contents: [{ Key: "prod/a/1", Size: 3 }],
      IsTruncated: true,
      NextContinuationToken: "tok",
    }));
    const page = await new S3Store({ bucket: "b", keyPrefix: "prod/", client }).list("a/", { limit: 1, cursor: "prev" });
    expect(page).toEqual({ entries: [{ key: "a/1", size: 3 }], cursor: "tok" });
    expect((sent[0] as { input: unknown }).input).toMatchObject({ Prefix: "prod/a/", MaxKeys: 1, ContinuationToken: "prev" });
  });

  it("copies by default with a GetObject and a create-only PutObject that keeps the source's content type", async () => {
    const { sent, client } = stubbed((command) =>
      command instanceof GetObjectCommand ? { Body: { transformToByteArray: async () => body }, ETag: '"src"', ContentType: "image/png" } : { ETag: '"src"' },
    );
    expect(await new S3Store({ bucket: "b", keyPrefix: "prod/", client }).copy("uploads/u", "jobs/1/inputs/000", { ifNoneMatch: "*" })).toEqual({ etag: "src" });
    expect(sent.map((c) => (c as object).constructor.name)).toEqual(["GetObjectCommand", "PutObjectCommand"]);
    expect((sent[0] as GetObjectCommand).input).toMatchObject({ Bucket: "b", Key: "prod/uploads/u" });
    expect((sent[1] as PutObjectCommand).input).toMatchObject({ Bucket: "b", Key: "prod/jobs/1/inputs/000", IfNoneMatch: "*", ContentType: "image/png", Body: body });
  });

  it("copies with one create-only CopyObject in copy-object mode, mapping 412/409 to PreconditionFailedError and a missing source to undefined", async () => {
    const { sent, client } = stubbed(() => ({ CopyObjectResult: { ETag: '"abc"' } }));
    const store = new S3Store({ bucket: "b", keyPrefix: "prod/", client, copyMode: "copy-object" });
    expect(await store.copy("uploads/t/upl_a=1", "jobs/1/inputs/000", { ifNoneMatch: "*" })).toEqual({ etag: "abc" });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(CopyObjectCommand);
    expect((sent[0] as CopyObjectCommand).input).toEqual({ Bucket: "b", Key: "prod/jobs/1/inputs/000", CopySource: "b/prod/uploads/t/upl_a=1", IfNoneMatch: "*" });
    for (const [name, status, expected] of [
      ["PreconditionFailed", 412, PreconditionFailedError],
      ["ConditionalRequestConflict", 409, PreconditionFailedError],
      ["NoSuchBucket", 404, StoreError],
      ["AccessDenied", 403, StoreError],
    ] as const) {
      const failing = stubbed(() => {
        throw sdkError(name, status);
      });
      const error = await new S3Store({ bucket: "b", client: failing.client, copyMode: "copy-object" }).copy("a", "b", { ifNoneMatch: "*" }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(expected);
      if (expected === StoreError) expect(error, name).not.toBeInstanceOf(PreconditionFailedError);
    }
    const missing = stubbed(() => {
      throw sdkError("NoSuchKey", 404);
    });
    expect(await new S3Store({ bucket: "b", client: missing.client, copyMode: "copy-object" }).copy("a", "b", { ifNoneMatch: "*" })).toBeUndefined();
  });

  it("refuses a store without a bucket or with an invalid key prefix", () => {
    expect(() => new S3Store({ bucket: "" })).toThrow(StoreError);
    expect(() => new S3Store({ bucket: "b", keyPrefix: "../" })).toThrow(StoreError);
  });
});
