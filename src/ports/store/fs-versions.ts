import { randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { copyFile, link, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { contentHash } from "./etag.js";

/**
 * The version files behind one object of the filesystem store.
 *
 * An object lives in its own directory as numbered, write-once version files; the highest
 * number is the current state. A new version is published with link(2), which fails with
 * EEXIST when the name is taken: that makes "create version n+1" an atomic compare-and-swap
 * against every writer on the machine, in this process or another, with no lock to go stale
 * when a writer is killed. Version names are never reused (old versions are emptied, not
 * removed), so a writer that read version n long ago can only publish n+1 if nobody did.
 *
 * A version file's first byte says what it holds:
 */
const DATA = 0x01; // followed by the object's bytes
const TOMBSTONE = 0x02; // the object was deleted
// An empty file is a superseded version whose bytes were released.

const VERSION_NAME = /^\d{12}$/;
/** An empty newest version means a newer one just appeared; this many in a row means damage. */
const MAX_READ_ATTEMPTS = 100;
const versionName = (n: number): string => String(n).padStart(12, "0");

export type Head =
  | { readonly version: 0; readonly state: "absent" }
  | { readonly version: number; readonly state: "deleted" }
  | { readonly version: number; readonly state: "present"; readonly body: Uint8Array };

/** Highest version number in the object directory (0 when none). */
async function latestVersion(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isCode(error, "ENOENT")) return 0;
    throw error;
  }
  let latest = 0;
  for (const name of names) if (VERSION_NAME.test(name)) latest = Math.max(latest, Number(name));
  return latest;
}

/** The current state. Retries when the version it read was superseded meanwhile. */
export async function readHead(dir: string): Promise<Head> {
  for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
    const version = await latestVersion(dir);
    if (version === 0) return { version: 0, state: "absent" };
    const bytes = await readFile(join(dir, versionName(version)));
    if (bytes.length === 0) continue; // superseded between readdir and read: a newer one exists
    if (bytes[0] === TOMBSTONE) return { version, state: "deleted" };
    if (bytes[0] !== DATA) throw new Error(`corrupt version file ${join(dir, versionName(version))}`);
    return { version, state: "present", body: new Uint8Array(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1) };
  }
  throw new Error(`${dir}: the newest version stayed empty over ${MAX_READ_ATTEMPTS} reads (damaged store?)`);
}

/** Whether the object exists, reading one byte of its current version (for listings). */
export async function headSize(dir: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
    const version = await latestVersion(dir);
    if (version === 0) return undefined;
    const handle = await open(join(dir, versionName(version)), "r");
    try {
      const { size } = await handle.stat();
      if (size === 0) continue;
      const first = Buffer.alloc(1);
      await handle.read(first, 0, 1, 0);
      return first[0] === DATA ? size - 1 : undefined;
    } finally {
      await handle.close();
    }
  }
  throw new Error(`${dir}: the newest version stayed empty over ${MAX_READ_ATTEMPTS} reads (damaged store?)`);
}

/** A staged version: written and flushed under a temporary name, not yet visible. */
export async function stageVersion(dir: string, body: Uint8Array | undefined, fsync: boolean): Promise<string> {
  const path = join(dir, `tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(body ? Buffer.concat([Buffer.of(DATA), body]) : Buffer.of(TOMBSTONE));
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}

/**
 * Stages a copy of the current version of the object in `sourceDir` as a version file in `dir`,
 * file to file (copy_file_range or a reflink where the filesystem has one): the bytes are not
 * read into memory, only hashed as they stream for the ETag. Undefined when the object does
 * not exist. A version file is write-once and a superseded one is emptied by an atomic rename,
 * so the copy holds either that version whole or nothing; nothing means a newer version
 * appeared, and the newest is copied again.
 */
export async function stageCopyOfHead(sourceDir: string, dir: string, fsync: boolean): Promise<{ path: string; etag: string } | undefined> {
  for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
    const version = await latestVersion(sourceDir);
    if (version === 0) return undefined;
    const path = join(dir, `tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    await copyFile(join(sourceDir, versionName(version)), path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const handle = await open(path, "r");
    let first: number | undefined;
    try {
      const byte = Buffer.alloc(1);
      const { bytesRead } = await handle.read(byte, 0, 1, 0);
      first = bytesRead === 1 ? byte[0] : undefined;
      if (first === DATA && fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    if (first === DATA) return { path, etag: await fileEtag(path, 1) };
    await removeStaged(path);
    if (first === TOMBSTONE) return undefined;
    if (first !== undefined) throw new Error(`corrupt version file ${join(sourceDir, versionName(version))}`);
  }
  throw new Error(`${sourceDir}: the newest version stayed empty over ${MAX_READ_ATTEMPTS} reads (damaged store?)`);
}

/** The content ETag of a file's bytes from `start` on, streamed. */
async function fileEtag(path: string, start: number): Promise<string> {
  const hash = contentHash();
  for await (const chunk of createReadStream(path, { start })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Publishes a staged file as `version`; false when that version already exists (lost race). */
export async function publishVersion(dir: string, staged: string, version: number, fsync: boolean): Promise<boolean> {
  try {
    await link(staged, join(dir, versionName(version)));
  } catch (error) {
    if (isCode(error, "EEXIST")) return false;
    throw error;
  }
  if (fsync) await syncDirectory(dir);
  return true;
}

/**
 * Empties the versions older than `current`, keeping the names so they are never reused.
 * Walks down from current-1 and stops at the first version already empty: everything below it
 * was released by an earlier write, so each write touches one or two files, not the history.
 */
export async function releaseOlderVersions(dir: string, current: number): Promise<void> {
  for (let version = current - 1; version >= 1; version--) {
    const path = join(dir, versionName(version));
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if (isCode(error, "ENOENT")) continue; // removed from outside the store: nothing to release
      throw error;
    }
    if (size === 0) return;
    // rename(2) swaps the bytes atomically: a reader has the old file open or sees it empty.
    const empty = join(dir, `tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    await writeFile(empty, new Uint8Array(0), { flag: "wx" });
    await rename(empty, path);
  }
}

export async function removeStaged(path: string): Promise<void> {
  await unlink(path).catch((error: unknown) => {
    if (!isCode(error, "ENOENT")) throw error;
  });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}
