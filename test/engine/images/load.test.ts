import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageInputError, loadTrainingImages, resolveImageFiles } from "../../../src/engine/images/index.js";
import { BLUE, fromRaw, GREEN, RED, rawRgb } from "./make-images.js";

let root: string;
const png = (colour: [number, number, number]) => fromRaw(rawRgb(20, 20, () => colour), 20, 20).png().toBuffer();

async function refusal(promise: Promise<unknown>): Promise<ImageInputError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ImageInputError);
  return error as ImageInputError;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "dvar-img-"));
  const set = join(root, "set");
  await mkdir(set);
  await mkdir(join(set, "nested.png")); // a folder with an image name is not an image
  await writeFile(join(set, "b.PNG"), await png(GREEN));
  await writeFile(join(set, "a.jpg"), await fromRaw(rawRgb(20, 20, () => RED), 20, 20).jpeg().toBuffer());
  await writeFile(join(set, "c.webp"), await fromRaw(rawRgb(20, 20, () => BLUE), 20, 20).webp({ lossless: true }).toBuffer());
  await writeFile(join(set, ".hidden.png"), await png(RED));
  await writeFile(join(set, "notes.txt"), "not an image");
  await writeFile(join(root, "extensionless"), await png(RED));
  await writeFile(join(root, "corrupt.png"), "definitely not a png");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("finding image files", () => {
  it("lists a folder's images sorted by name, skipping hidden files, other files and subfolders", async () => {
    const files = await resolveImageFiles(join(root, "set"));
    expect(files.map((f) => f.slice(root.length + 1))).toEqual(["set/a.jpg", "set/b.PNG", "set/c.webp"]);
  });

  it("takes named files as given, whatever their extension", async () => {
    const files = await resolveImageFiles([join(root, "extensionless"), join(root, "set", "a.jpg")]);
    expect(files).toEqual([join(root, "extensionless"), join(root, "set", "a.jpg")]);
  });

  it("refuses a missing path, naming it", async () => {
    const error = await refusal(resolveImageFiles([join(root, "set"), join(root, "missing.png")]));
    expect([error.code, error.file]).toEqual(["not_found", join(root, "missing.png")]);
  });
});

describe("loading training images", () => {
  it("loads a folder in name order", async () => {
    const images = await loadTrainingImages(join(root, "set"), { resolution: 16, withFlipped: true });
    expect(images.map((i) => i.format)).toEqual(["jpeg", "png", "webp"]);
    // Red JPEG, green PNG, blue WebP: the dominant channel identifies each.
    const plane = 16 * 16;
    const dominant = images.map((i) => [0, 1, 2].reduce((best, c) => (i.pixels[c * plane]! > i.pixels[best * plane]! ? c : best), 0));
    expect(dominant).toEqual([0, 1, 2]);
    expect(images.every((i) => i.flipped?.length === i.pixels.length)).toBe(true);
  });

  it("counts before decoding: too many files are refused even if one is corrupt", async () => {
    const many = Array.from({ length: 11 }, () => join(root, "corrupt.png"));
    expect((await refusal(loadTrainingImages(many, { resolution: 16 }))).code).toBe("too_many");
    const few = await refusal(loadTrainingImages(join(root, "extensionless"), { resolution: 16 }));
    expect([few.code, few.message]).toEqual(["too_few", "1 image given; at least 3 are needed"]);
  });

  it("refuses a file listed twice, an oversized file before reading it, and a corrupt one by name", async () => {
    const a = join(root, "set", "a.jpg");
    expect((await refusal(loadTrainingImages([a, a, join(root, "extensionless")], { resolution: 16 }))).code).toBe("duplicate");
    const big = await refusal(loadTrainingImages([a, join(root, "extensionless")], { resolution: 16, minCount: 1, maxBytes: 50 }));
    expect([big.code, big.file]).toEqual(["too_large_bytes", a]);
    const bad = await refusal(loadTrainingImages([a, join(root, "corrupt.png")], { resolution: 16, minCount: 1 }));
    expect([bad.code, bad.file]).toEqual(["unreadable", join(root, "corrupt.png")]);
    expect(bad.message).toMatch(/corrupt\.png: cannot decode the image/);
  });
});
