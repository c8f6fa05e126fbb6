import { describe, expect, it } from "vitest";
import { InvalidKeyError, InvalidStoreRequestError, PreconditionFailedError, type Store } from "../../../src/ports/store/index.js";

/**
 * The behaviour every Store implementation shares (docs/STORE.md). Each test gets a fresh,
 * empty store from `makeStore` (for S3: a fresh key prefix in one bucket).
 */
export function describeStoreConformance(name: string, makeStore: () => Promise<Store> | Store): void {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const text = (body: Uint8Array | undefined) => (body ? new TextDecoder().decode(body) : undefined);

  /** Read-modify-write with compare-and-swap, retrying lost races. */
  async function increment(store: Store, key: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const current = await store.get(key);
      const next = Number(text(current?.body) ?? "0") + 1;
      try {
        await store.put(key, bytes(String(next)), current ? { ifMatch: current.etag } : { ifNoneMatch: "*" });
        return attempt;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
  }

  describe(`Store conformance: ${name}`, () => {
    it("answers undefined for a missing object", async () => {
      const store = await makeStore();
      expect(await store.get("missing/object")).toBeUndefined();
    });

    it("round-trips bytes, including empty bodies and every byte value", async () => {
      const store = await makeStore();
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const put = await store.put("bin/all", all);
      const got = await store.get("bin/all");
      expect(got?.body).toEqual(all);
      expect(got?.etag).toBe(put.etag);
      await store.put("bin/empty", new Uint8Array(0));
      expect((await store.get("bin/empty"))?.body.byteLength).toBe(0);
    });

    it("gives equal bytes equal ETags and different bytes different ETags", async () => {
      const store = await makeStore();
      const a = await store.put("e/a", bytes("same"));
      const b = await store.put("e/b", bytes("same"));
      const c = await store.put("e/c", bytes("other"));
      expect(a.etag).toBe(b.etag);
      expect(c.etag).not.toBe(a.etag);
    });

    it("keeps stored bytes independent of the caller's buffers", async () => {
      const store = await makeStore();
      const body = bytes("abc");
      await store.put("iso/k", body);
      body[0] = 0x7a;
      const first = await store.get("iso/k");
      first!.body[1] = 0x7a;
      expect(text((await store.get("iso/k"))?.body)).toBe("abc");
    });

    it("overwrites unconditionally without options", async () => {
      const store = await makeStore();
      await store.put("w/k", bytes("one"));
      const second = await store.put("w/k", bytes("two"));
      const got = await store.get("w/k");
      expect(text(got?.body)).toBe("two");
      expect(got?.etag).toBe(second.etag);
    });

    it("creates only once with ifNoneMatch '*', leaving the first bytes", async () => {
      const store = await makeStore();
      await store.put("c/k", bytes("first"), { ifNoneMatch: "*" });
      await expect(store.put("c/k", bytes("second"), { ifNoneMatch: "*" })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(text((await store.get("c/k"))?.body)).toBe("first");
    });

    it("compare-and-swaps with ifMatch: current ETag wins, stale ETag and missing object fail", async () => {
      const store = await makeStore();
      const v1 = await store.put("cas/k", bytes("v1"));
      const v2 = await store.put("cas/k", bytes("v2"), { ifMatch: v1.etag });
      await expect(store.put("cas/k", bytes("v3"), { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(text((await store.get("cas/k"))?.body)).toBe("v2");
      await store.put("cas/k", bytes("v3"), { ifMatch: v2.etag });
      expect(text((await store.get("cas/k"))?.body)).toBe("v3");
      await expect(store.put("cas/none", bytes("x"), { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store.get("cas/none")).toBeUndefined();
    });

    it("deletes, tolerates deleting a missing object, and allows re-creation", async () => {
      const store = await makeStore();
      await store.delete("d/never");
      const v1 = await store.put("d/k", bytes("v1"));
      await store.delete("d/k");
      expect(await store.get("d/k")).toBeUndefined();
      await expect(store.put("d/k", bytes("v2"), { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await store.put("d/k", bytes("v2"), { ifNoneMatch: "*" });
      expect(text((await store.get("d/k"))?.body)).toBe("v2");
    });

    it("holds a key and keys below it side by side", async () => {
      const store = await makeStore();
      await store.put("n/a", bytes("parent"));
      await store.put("n/a/b", bytes("child"));
      expect(text((await store.get("n/a"))?.body)).toBe("parent");
      expect(text((await store.get("n/a/b"))?.body)).toBe("child");
    });

    it("lists by prefix in byte order, page by page", async () => {
      const store = await makeStore();
      const keys = ["p/x1", "p/x2/deep", "p/x3", "p/y", "p/Z", "p/x10", "p/x2"];
      for (const key of keys) await store.put(key, bytes(key));
      await store.put("q/x1", bytes("outside"));
      await store.put("p/gone", bytes("deleted"));
      await store.delete("p/gone");

      const seen: { key: string; size: number }[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list("p/", { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.entries.length).toBeLessThanOrEqual(3);
        seen.push(...page.entries);
        cursor = page.cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen.map((e) => e.key)).toEqual([...keys].sort());
      expect(seen.every((e) => e.size === e.key.length)).toBe(true);
      expect(pages).toBeGreaterThanOrEqual(3);

      const partial = await store.list("p/x");
      expect(partial.entries.map((e) => e.key)).toEqual(["p/x1", "p/x10", "p/x2", "p/x2/deep", "p/x3"]);
      expect(partial.cursor).toBeUndefined();
      expect((await store.list("nothing/")).entries).toEqual([]);
    });

    it("rejects bad keys and contradictory options with typed errors", async () => {
      const store = await makeStore();
      for (const key of ["", "/a", "a/", "a//b", "../x", "a/./b", "a~b", "a b", "a\\b", "x".repeat(513)]) {
        await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.put(key, bytes("x")), key).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(store.put("o/k", bytes("x"), { ifMatch: "abc", ifNoneMatch: "*" })).rejects.toBeInstanceOf(
        InvalidStoreRequestError,
      );
      await expect(store.list("o/", { limit: 0 })).rejects.toBeInstanceOf(InvalidStoreRequestError);
      for (const prefix of ["../", "a//", "/", "a/../", "a~"]) {
        await expect(store.list(prefix), prefix).rejects.toBeInstanceOf(InvalidKeyError);
      }
      expect(await store.get("o/k")).toBeUndefined();
    });

    it("lets exactly one of two writers advance the same object from the same ETag", async () => {
      const store = await makeStore();
      for (let round = 0; round < 8; round++) {
        const key = `race/${round}`;
        const base = await store.put(key, bytes("base"));
        const results = await Promise.allSettled([
          store.put(key, bytes("writer-a"), { ifMatch: base.etag }),
          store.put(key, bytes("writer-b"), { ifMatch: base.etag }),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        expect(won).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailedError);
        const winner = results[0]!.status === "fulfilled" ? "writer-a" : "writer-b";
        expect(text((await store.get(key))?.body)).toBe(winner);
      }
    });

    it("lets exactly one of several concurrent creators win", async () => {
      const store = await makeStore();
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => store.put("create-race/k", bytes(`creator-${i}`), { ifNoneMatch: "*" })),
      );
      const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(text((await store.get("create-race/k"))?.body)).toBe(`creator-${winners[0]}`);
    });

    it("copies create-only: the copy holds the source's bytes and the ETag a put of them gets; the source is unchanged", async () => {
      const store = await makeStore();
      const all = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256);
      const source = await store.put("copy/src", all, { contentType: "image/png" });
      const copied = await store.copy("copy/src", "copy/dst", { ifNoneMatch: "*" });
      expect(copied).toEqual({ etag: source.etag });
      expect(await store.get("copy/dst")).toEqual({ body: all, etag: source.etag });
      expect(await store.get("copy/src")).toEqual({ body: all, etag: source.etag });
      await store.put("copy/empty", new Uint8Array(0));
      await store.copy("copy/empty", "copy/empty-2", { ifNoneMatch: "*" });
      expect((await store.get("copy/empty-2"))?.body.byteLength).toBe(0);
      expect((await store.list("copy/")).entries.map((e) => [e.key, e.size])).toEqual([["copy/dst", 70_000], ["copy/empty", 0], ["copy/empty-2", 0], ["copy/src", 70_000]]);
    });

    it("refuses a copy onto an existing object (PreconditionFailedError), changing neither", async () => {
      const store = await makeStore();
      await store.put("copy/src", bytes("source"));
      const existing = await store.put("copy/dst", bytes("existing"));
      await expect(store.copy("copy/src", "copy/dst", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store.get("copy/dst")).toEqual({ body: bytes("existing"), etag: existing.etag });
      expect(text((await store.get("copy/src"))?.body)).toBe("source");
      await expect(store.copy("copy/src", "copy/src", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(text((await store.get("copy/src"))?.body)).toBe("source");
    });

    it("answers undefined for a missing or deleted source and writes nothing", async () => {
      const store = await makeStore();
      expect(await store.copy("copy/missing", "copy/dst", { ifNoneMatch: "*" })).toBeUndefined();
      await store.put("copy/gone", bytes("x"));
      await store.delete("copy/gone");
      expect(await store.copy("copy/gone", "copy/dst", { ifNoneMatch: "*" })).toBeUndefined();
      expect(await store.get("copy/dst")).toBeUndefined();
      expect((await store.list("copy/")).entries).toEqual([]);
    });

    it("copies the source's current bytes, and the copy stays when the source is rewritten or deleted", async () => {
      const store = await makeStore();
      await store.put("copy/src", bytes("v1"));
      await store.put("copy/src", bytes("v2"));
      await store.copy("copy/src", "copy/a", { ifNoneMatch: "*" });
      await store.put("copy/src", bytes("v3"));
      expect(text((await store.get("copy/a"))?.body)).toBe("v2");
      await store.delete("copy/src");
      expect(text((await store.get("copy/a"))?.body)).toBe("v2");
    });

    it("lets exactly one of several concurrent copies to one key win, against a concurrent create-only put too", async () => {
      const store = await makeStore();
      for (const i of [0, 1, 2]) await store.put(`copy-race/src-${i}`, bytes(`source-${i}`));
      const results = await Promise.allSettled([
        ...[0, 1, 2].map((i) => store.copy(`copy-race/src-${i}`, "copy-race/k", { ifNoneMatch: "*" })),
        store.put("copy-race/k", bytes("source-3"), { ifNoneMatch: "*" }),
      ]);
      const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const lost of results.filter((r) => r.status === "rejected")) expect((lost as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailedError);
      expect(text((await store.get("copy-race/k"))?.body)).toBe(`source-${winners[0]}`);
    });

    it("rejects bad keys and a copy that is not create-only with typed errors", async () => {
      const store = await makeStore();
      await store.put("copy/src", bytes("x"));
      for (const key of ["", "a//b", "../x", "a~b"]) {
        await expect(store.copy(key, "copy/dst", { ifNoneMatch: "*" }), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.copy("copy/src", key, { ifNoneMatch: "*" }), key).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(store.copy("copy/src", "copy/dst", {} as never)).rejects.toBeInstanceOf(InvalidStoreRequestError);
      expect(await store.get("copy/dst")).toBeUndefined();
    });

    it("loses no update when concurrent writers increment a counter with compare-and-swap", async () => {
      const store = await makeStore();
      const workers = 4;
      const each = 5;
      const retries = await Promise.all(
        Array.from({ length: workers }, async () => {
          let lost = 0;
          for (let i = 0; i < each; i++) lost += await increment(store, "counter/k");
          return lost;
        }),
      );
      expect(text((await store.get("counter/k"))?.body)).toBe(String(workers * each));
      // The workers really contended: at least one write lost a race and retried.
      expect(retries.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    });
  });
}
