/** S3 mode of POST /v1/uploads: presigned PUT URLs, exercised against Ceph RGW (a real S3). */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { S3Store } from "../../../src/ports/store/index.js";
import { rgwInstalled, rgwRequired, useRgwBucket } from "../../support/rgw.js";
import { createHarness, problem } from "./harness.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

describe("POST /v1/uploads without a presigner (embedded mode)", () => {
  it("refuses a JSON presign request with 422", async () => {
    const h = await createHarness({ runSlices: false });
    const response = await h.post("/v1/uploads", { content_type: "image/png" });
    expect(response.status).toBe(422);
    expect((await problem(response)).detail).toContain("S3");
    const badType = await h.post("/v1/uploads", { content_type: "text/html" });
    expect(badType.status).toBe(400);
    expect((await problem(badType)).code).toBe("validation_failed");
  });
});

if (rgwInstalled() || rgwRequired) {
  const gateway = useRgwBucket("uploads");
  const bucket = gateway.bucket;

  describe("POST /v1/uploads with presigned URLs (S3 on Ceph RGW)", () => {
    it("issues a URL the client PUTs to without credentials; the job then finds the upload", async () => {
      const store = new S3Store({
        bucket,
        keyPrefix: "api/",
        endpoint: gateway.rgw().endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: gateway.rgw().accessKeyId, secretAccessKey: gateway.rgw().secretAccessKey },
      });
      const h = await createHarness({ runSlices: false, store, deps: { presignUpload: (key, type, ttl) => store.presignPut(key, type, ttl) } });
      const uploads: Array<{ id: string; status: string; upload_url: string; upload_headers: Record<string, string> }> = [];
      for (let i = 0; i < 3; i++) {
        const response = await h.post("/v1/uploads", { content_type: "image/png" });
        expect(response.status).toBe(201);
        uploads.push((await response.json()) as (typeof uploads)[number]);
      }
      const upload = uploads[0]!;
      expect(upload.status).toBe("pending");
      expect(upload.upload_url).toContain(`/${bucket}/api/uploads/tenant-a/${upload.id}?`);
      expect(upload.upload_url).toContain("X-Amz-Signature=");

      const job = { objective: "textual_inversion", model: "m", placeholder_token: "<x>", initializer_token: "x", images: uploads.map((u) => u.id) };
      const early = await h.post("/v1/inversions", job);
      expect(early.status).toBe(422);
      expect(((await early.json()) as { code: string }).code).toBe("upload_missing");

      const bytes = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
      const wrongType = await fetch(upload.upload_url, { method: "PUT", headers: { "content-type": "image/jpeg" }, body: bytes });
      expect(wrongType.status).toBe(403);
      for (const u of uploads) {
        const put = await fetch(u.upload_url, { method: "PUT", headers: u.upload_headers, body: bytes });
        expect(put.status).toBe(200);
      }
      const stored = await store.get(`uploads/tenant-a/${upload.id}`);
      expect(Buffer.from(stored!.body).equals(bytes)).toBe(true);

      const created = await h.post("/v1/inversions", job);
      expect(created.status).toBe(202);
    });
  });
}
