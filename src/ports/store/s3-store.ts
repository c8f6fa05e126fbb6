import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { PreconditionFailedError, StoreError } from "./errors.js";
import { assertValidCopy, assertValidKey, assertValidPrefix, assertValidPutOptions, listLimit } from "./keys.js";
import type { CopyOptions, ListOptions, ListPage, PutOptions, PutResult, Store, StoredObject } from "./store.js";

export interface S3StoreOptions {
  readonly bucket: string;
  /** Prepended to every key (e.g. "prod/"), so deployments can share a bucket. */
  readonly keyPrefix?: string;
  /** A ready client; otherwise one is built from `endpoint`, `region`, credentials. */
  readonly client?: S3Client;
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style URLs (http://host/bucket/key): needed for localhost, Ceph RGW, MinIO. */
  readonly forcePathStyle?: boolean;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * How If-Match carries the ETag. Ceph RGW compares it with the unquoted ETag only, and
   * AWS S3 and R2 accept the unquoted form too, so "unquoted" is the default.
   */
  readonly ifMatchForm?: "unquoted" | "quoted";
  /**
   * How `copy` is made create-only. "copy-object": one CopyObject with `If-None-Match: *`, the
   * bytes never leave the service; only for services that enforce that header on CopyObject
   * (AWS S3 documents it). "get-put" (the default): GetObject, then PutObject with
   * `If-None-Match: *`, on any service with conditional PUT. Ceph RGW 16 ignores If-None-Match
   * on CopyObject and overwrites the target (tested), so there "copy-object" would not be create-only.
   */
  readonly copyMode?: "get-put" | "copy-object";
}

/** The Store on any S3-compatible service with conditional writes (AWS S3, R2, Ceph RGW). */
export class S3Store implements Store {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly quoteIfMatch: boolean;
  private readonly copyMode: "get-put" | "copy-object";

  constructor(options: S3StoreOptions) {
    if (!options.bucket) throw new StoreError("S3 store needs a bucket");
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? "";
    if (this.keyPrefix !== "") assertValidPrefix(this.keyPrefix);
    this.quoteIfMatch = options.ifMatchForm === "quoted";
    this.copyMode = options.copyMode ?? "get-put";
    this.client = options.client ?? new S3Client(clientConfig(options));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    const found = await this.getWithType(key);
    return found && { body: found.body, etag: found.etag };
  }

  private async getWithType(key: string): Promise<(StoredObject & { contentType?: string }) | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
      const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
      return { body, etag: unquote(out.ETag, key), ...(out.ContentType ? { contentType: out.ContentType } : {}) };
    } catch (error) {
      if (httpStatus(error) === 404 && errorName(error) !== "NoSuchBucket") return undefined;
      throw wrap(error, "get", key);
    }
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    assertValidPutOptions(key, options);
    const ifMatch = options?.ifMatch === undefined ? undefined : this.quoteIfMatch ? `"${options.ifMatch}"` : options.ifMatch;
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyPrefix + key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: options?.contentType ?? "application/octet-stream",
          IfNoneMatch: options?.ifNoneMatch,
          IfMatch: ifMatch,
        }),
      );
      return { etag: unquote(out.ETag, key) };
    } catch (error) {
      const status = httpStatus(error);
      // 412: the condition failed. 409: AWS's answer when a concurrent conditional write won.
      // 404 on If-Match: AWS's answer when the object does not exist (RGW answers 412).
      if (status === 412 || status === 409 || (status === 404 && ifMatch !== undefined && errorName(error) !== "NoSuchBucket")) {
        throw new PreconditionFailedError(key, options?.ifNoneMatch ? "object exists" : "ETag changed or object missing", {
          cause: error,
        });
      }
      throw wrap(error, "put", key);
    }
  }

  async copy(from: string, to: string, options: CopyOptions): Promise<PutResult | undefined> {
    assertValidCopy(from, to, options);
    if (this.copyMode === "get-put") {
      const source = await this.getWithType(from);
      return source && this.put(to, source.body, { ifNoneMatch: "*", ...(source.contentType ? { contentType: source.contentType } : {}) });
    }
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.keyPrefix + to,
          CopySource: `${this.bucket}/${this.keyPrefix + from}`,
          IfNoneMatch: "*",
        }),
      );
      return { etag: unquote(out.CopyObjectResult?.ETag, to) };
    } catch (error) {
      const status = httpStatus(error);
      if (status === 412 || status === 409) throw new PreconditionFailedError(to, "object exists", { cause: error });
      // CopyObject answers a missing source with 404 NoSuchKey.
      if (status === 404 && errorName(error) !== "NoSuchBucket") return undefined;
      throw wrap(error, "copy", to);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
    } catch (error) {
      if (httpStatus(error) === 404 && errorName(error) !== "NoSuchBucket") return;
      throw wrap(error, "delete", key);
    }
  }

  /**
   * A presigned PUT URL for `key` (clients upload without credentials). The content type is
   * signed, so the client must send exactly the returned headers. Signing is local: no request.
   */
  async presignPut(key: string, contentType: string, expiresInSeconds: number): Promise<{ url: string; headers: Record<string, string> }> {
    assertValidKey(key);
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key, ContentType: contentType });
    const url = await getSignedUrl(this.client, command, { expiresIn: expiresInSeconds, signableHeaders: new Set(["content-type"]) });
    return { url, headers: { "content-type": contentType } };
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidPrefix(prefix);
    const limit = listLimit(options);
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: limit,
          ContinuationToken: options?.cursor,
        }),
      );
      const entries = (out.Contents ?? []).map((item) => ({
        key: (item.Key ?? "").slice(this.keyPrefix.length),
        size: item.Size ?? 0,
      }));
      return out.IsTruncated && out.NextContinuationToken ? { entries, cursor: out.NextContinuationToken } : { entries };
    } catch (error) {
      throw wrap(error, "list", prefix);
    }
  }
}

function clientConfig(options: S3StoreOptions): S3ClientConfig {
  return {
    endpoint: options.endpoint,
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: options.credentials,
    // Checksums only where the API requires them: S3-compatible services (older RGW, R2)
    // reject or ignore the newer default trailing checksums.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}

function unquote(etag: string | undefined, key: string): string {
  if (!etag) throw new StoreError(`S3 returned no ETag for "${key}"`, key);
  return etag.replace(/^(W\/)?"(.*)"$/, "$2");
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Keeps the SDK error as the cause; the message names the operation and key only. */
function wrap(error: unknown, operation: string, key: string): StoreError {
  const detail = errorName(error) ?? "unknown error";
  const status = httpStatus(error);
  return new StoreError(`S3 ${operation} "${key}" failed: ${detail}${status ? ` (HTTP ${status})` : ""}`, key, {
    cause: error,
  });
}
