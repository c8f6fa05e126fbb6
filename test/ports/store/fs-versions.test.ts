import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FsStore } from "../../../src/ports/store/index.js";
import { publishVersion, readHead, releaseOlderVersions, stageVersion } from "../../../src/ports/store/fs-versions.js";

const work = mkdtempSync(join(tmpdir(), "fs-versions-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bytes = (text: string) => new TextEncoder().encode(text);

describe("FsStore version files", () => {
  it("never frees a published version name, so a long-stalled writer cannot publish over history", async () => {
    const dir = join(work, "names~");
    const store = new FsStore({ root: work, fsync: false });
    await store.put("names", bytes("v1"));
    await store.put("names", bytes("v2"));
    await store.put("names", bytes("v3"));
    // Versions 1 and 2 were emptied but keep their names.
    const sizes = readdirSync(dir).filter((n) => /^\d+$/.test(n)).map((n) => statSync(join(dir, n)).size);
    expect(sizes).toEqual([0, 0, 3]);
    // A writer that read version 1 long ago tries to publish version 2.
    const staged = await stageVersion(dir, bytes("stale"), false);
    expect(await publishVersion(dir, staged, 2, false)).toBe(false);
    expect(new TextDecoder().decode((await store.get("names"))!.body)).toBe("v3");
  });

  it("reads the newest version when a killed writer left a staged file and unreleased versions", async () => {
    const root = join(work, "crash");
    const store = new FsStore({ root, fsync: false });
    await store.put("job", bytes("v1"));
    const dir = join(root, "job~");
    // Killed after publishing version 2 but before releasing version 1, and mid-staging another.
    const staged = await stageVersion(dir, bytes("v2"), false);
    expect(await publishVersion(dir, staged, 2, false)).toBe(true);
    writeFileSync(join(dir, "tmp-99999-deadbeef0000"), "half a wri");
    const head = await readHead(dir);
    expect(head.state === "present" && new TextDecoder().decode(head.body)).toBe("v2");
    expect((await store.list("")).entries).toEqual([{ key: "job", size: 2 }]);
    // The next write releases what the killed writer left.
    await store.put("job", bytes("v3"), { ifMatch: (await store.get("job"))!.etag });
    await releaseOlderVersions(dir, 3);
    expect(statSync(join(dir, "000000000001")).size).toBe(0);
    expect(statSync(join(dir, "000000000002")).size).toBe(0);
  });

  it("keeps keys inside its root directory", async () => {
    const root = join(work, "layout");
    await new FsStore({ root, fsync: true }).put("a/b/c", bytes("x"));
    expect(readdirSync(join(root, "a", "b"))).toEqual(["c~"]);
  });
});
