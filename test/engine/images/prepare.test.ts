import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { ImageInputError, prepareTrainingImage, prepareTrainingImages, resolveImageOptions } from "../../../src/engine/images/index.js";
import { at, BLUE, fromRaw, GREEN, RED, rawRgb, rawRgba } from "./make-images.js";

const options = (overrides: object = {}) => resolveImageOptions({ resolution: 16, minSide: 8, minCount: 1, ...overrides });

/** Asserts a CHW pixel is close to an 8-bit colour (tolerance in 8-bit levels). */
function expectColour(chw: Float32Array, size: number, x: number, y: number, rgb: readonly number[], levels: number) {
  for (let c = 0; c < 3; c++) expect(Math.abs((at(chw, size, c, x, y) + 1) * 127.5 - rgb[c]!), `channel ${c} at (${x}, ${y})`).toBeLessThanOrEqual(levels);
}

describe("preparing one training image", () => {
  it("scales a flat colour to CHW float32 exactly as v / 127.5 - 1", async () => {
    const png = await fromRaw(rawRgb(20, 20, () => [255, 0, 128]), 20, 20).png().toBuffer();
    const image = await prepareTrainingImage("flat.png", png, options());
    expect(image).toMatchObject({ name: "flat.png", format: "png", width: 20, height: 20 });
    expect(image.pixels).toBeInstanceOf(Float32Array);
    expect(image.pixels).toHaveLength(3 * 16 * 16);
    const plane = 256;
    expect(image.pixels.slice(0, plane).every((v) => v === 1)).toBe(true);
    expect(image.pixels.slice(plane, 2 * plane).every((v) => v === -1)).toBe(true);
    expect(image.pixels.slice(2 * plane).every((v) => v === Math.fround(128 / 127.5 - 1))).toBe(true);
    expect(image.flipped).toBeUndefined();
  });

  it("centre-crops the largest square before resizing (diffusers' crop box)", async () => {
    // 31 x 10: columns 0-9 red, 10-20 green, 21-30 blue; the crop is columns 10..19.
    const raw = rawRgb(31, 10, (x) => (x < 10 ? RED : x <= 20 ? GREEN : BLUE));
    const image = await prepareTrainingImage("bands.png", await fromRaw(raw, 31, 10).png().toBuffer(), options({ resolution: 8 }));
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expectColour(image.pixels, 8, x, y, GREEN, 0);
    // Portrait: rows are cropped the same way.
    const tall = rawRgb(10, 31, (_x, y) => (y < 10 ? RED : y <= 20 ? GREEN : BLUE));
    const portrait = await prepareTrainingImage("tall.png", await fromRaw(tall, 10, 31).png().toBuffer(), options({ resolution: 8 }));
    expect([portrait.width, portrait.height]).toEqual([10, 31]);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expectColour(portrait.pixels, 8, x, y, GREEN, 0);
  });

  it("resizes with a centre-aligned cubic filter: a linear ramp stays the ramp at pixel centres", async () => {
    // 64 -> 16 (factor 4): output pixel x covers input centre 4x + 1.5; ramp value = 3 * centre.
    const raw = rawRgb(64, 64, (x) => [3 * x, 3 * x, 3 * x]);
    const image = await prepareTrainingImage("ramp.png", await fromRaw(raw, 64, 64).png().toBuffer(), options());
    for (let x = 2; x < 14; x++) {
      const expected = 3 * (4 * x + 1.5);
      for (let c = 0; c < 3; c++) expect(Math.abs((at(image.pixels, 16, c, x, 7) + 1) * 127.5 - expected)).toBeLessThanOrEqual(1);
    }
    // Upscaling (8 -> 16) is accepted at the default minSide (resolution / 2) and interpolates too.
    const small = rawRgb(8, 8, (x) => [30 * x, 30 * x, 30 * x]);
    const up = await prepareTrainingImage("up.png", await fromRaw(small, 8, 8).png().toBuffer(), resolveImageOptions({ resolution: 16, minCount: 1 }));
    // (Away from the borders, where Pillow renormalises the clipped kernel.)
    for (let x = 3; x < 13; x++) expect(Math.abs((at(up.pixels, 16, 0, x, 5) + 1) * 127.5 - 30 * ((x + 0.5) / 2 - 0.5))).toBeLessThanOrEqual(1);
  });

  it("applies EXIF orientation 6 (rotate 90 degrees clockwise) to a JPEG", async () => {
    // Stored 40 x 20: left half red, right half blue. Upright it is 20 x 40 with red on top.
    const raw = rawRgb(40, 20, (x) => (x < 20 ? RED : BLUE));
    const jpeg = await fromRaw(raw, 40, 20).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const image = await prepareTrainingImage("rotated.jpg", jpeg, options());
    expect([image.format, image.width, image.height]).toEqual(["jpeg", 20, 40]);
    // The centre square (rows 10..29 of the upright image) is red above blue.
    expectColour(image.pixels, 16, 8, 2, RED, 40);
    expectColour(image.pixels, 16, 8, 13, BLUE, 40);
    // Control: without the tag the stored layout stays (red left, blue right).
    const plain = await prepareTrainingImage("plain.jpg", await fromRaw(raw, 40, 20).jpeg({ quality: 95 }).toBuffer(), options());
    expect([plain.width, plain.height]).toEqual([40, 20]);
    expectColour(plain.pixels, 16, 2, 8, RED, 40);
    expectColour(plain.pixels, 16, 13, 8, BLUE, 40);
  });

  it("flattens alpha onto white by default, or onto a chosen background", async () => {
    // Left half opaque black, right half transparent (stored colour red, which must not show),
    // one column half-transparent black.
    const raw = rawRgba(16, 16, (x) => (x < 8 ? [0, 0, 0, 255] : x === 8 ? [0, 0, 0, 128] : [255, 0, 0, 0]));
    const png = await fromRaw(raw, 16, 16, 4).png().toBuffer();
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
    const image = await prepareTrainingImage("cutout.png", png, options());
    expectColour(image.pixels, 16, 2, 5, [0, 0, 0], 2);
    expectColour(image.pixels, 16, 13, 5, [255, 255, 255], 2);
    const onGrey = await prepareTrainingImage("cutout.png", png, options({ background: { r: 100, g: 110, b: 120 } }));
    expectColour(onGrey.pixels, 16, 13, 5, [100, 110, 120], 2);
  });

  it("reads WebP (lossless equals the PNG of the same pixels)", async () => {
    const raw = rawRgb(24, 24, (x, y) => [x * 10, y * 10, (x + y) * 5]);
    const webp = await fromRaw(raw, 24, 24).webp({ lossless: true }).toBuffer();
    const png = await fromRaw(raw, 24, 24).png().toBuffer();
    const fromWebp = await prepareTrainingImage("g.webp", webp, options());
    expect(fromWebp.format).toBe("webp");
    expect(fromWebp.pixels).toEqual((await prepareTrainingImage("g.png", png, options())).pixels);
  });

  it("reads greyscale and 16-bit PNGs as 8-bit RGB", async () => {
    const grey = await fromRaw(rawRgb(16, 16, () => [90, 90, 90]), 16, 16).toColourspace("b-w").png().toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const g = await prepareTrainingImage("grey.png", grey, options());
    expectColour(g.pixels, 16, 3, 3, [90, 90, 90], 1);
    const deep = await fromRaw(rawRgb(16, 16, () => [200, 100, 50]), 16, 16).toColourspace("rgb16").png().toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe("ushort");
    const d = await prepareTrainingImage("deep.png", deep, options());
    expectColour(d.pixels, 16, 3, 3, [200, 100, 50], 1);
  });

  it("returns the mirrored image when asked", async () => {
    const raw = rawRgb(16, 16, (x, y) => [x * 15, y * 15, 0]);
    const image = await prepareTrainingImage("m.png", await fromRaw(raw, 16, 16).png().toBuffer(), options({ withFlipped: true }));
    expect(image.flipped).toHaveLength(image.pixels.length);
    for (const [c, x, y] of [[0, 0, 0], [0, 3, 9], [1, 15, 4], [2, 7, 7]] as const) {
      expect(at(image.flipped!, 16, c, x, y)).toBe(at(image.pixels, 16, c, 15 - x, y));
    }
    expect(at(image.flipped!, 16, 0, 0, 0)).toBeGreaterThan(at(image.pixels, 16, 0, 0, 0)); // left and right did swap
  });
});

describe("refused images", () => {
  const png = (w: number, h: number) => fromRaw(rawRgb(w, h, () => GREEN), w, h).png().toBuffer();

  async function refusal(promise: Promise<unknown>): Promise<ImageInputError> {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ImageInputError);
    return error as ImageInputError;
  }

  it("refuses corrupt and truncated files as unreadable, naming them", async () => {
    const junk = await refusal(prepareTrainingImage("junk.jpg", new Uint8Array(200).fill(7), options()));
    expect([junk.code, junk.file]).toEqual(["unreadable", "junk.jpg"]);
    expect(junk.message).toMatch(/^junk\.jpg: cannot decode the image/);
    const jpeg = await fromRaw(rawRgb(64, 64, (x, y) => [x * 4, y * 4, 0]), 64, 64).jpeg().toBuffer();
    const cut = await refusal(prepareTrainingImage("cut.jpg", jpeg.subarray(0, Math.floor(jpeg.length / 2)), options()));
    expect([cut.code, cut.file]).toEqual(["unreadable", "cut.jpg"]);
  });

  it("refuses formats other than JPEG, PNG and WebP", async () => {
    const tiff = await fromRaw(rawRgb(16, 16, () => RED), 16, 16).tiff().toBuffer();
    const error = await refusal(prepareTrainingImage("scan.tiff", tiff, options()));
    expect(error.code).toBe("unsupported_format");
    expect(error.message).toMatch(/scan\.tiff: tiff images are not accepted/);
  });

  it("refuses images with a short side under minSide, after orientation", async () => {
    const error = await refusal(prepareTrainingImage("tiny.png", await png(30, 7), options()));
    expect(error.code).toBe("too_small");
    expect(error.message).toMatch(/tiny\.png: 30x7 is too small: the shorter side must be at least 8/);
  });

  it("refuses too many bytes or pixels before decoding", async () => {
    const big = await png(100, 100);
    const bytes = await refusal(prepareTrainingImage("big.png", big, options({ maxBytes: big.length - 1 })));
    expect([bytes.code, bytes.file]).toEqual(["too_large_bytes", "big.png"]);
    const pixels = await refusal(prepareTrainingImage("big.png", big, options({ maxPixels: 9999 })));
    expect(pixels.code).toBe("too_large_pixels");
    expect(pixels.message).toMatch(/100x100 is 10000 pixels, over the limit of 9999/);
  });

  it("refuses too many, too few and duplicate uploads", async () => {
    const one = await png(16, 16);
    const uploads = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `u${i}.png`, bytes: one }));
    expect((await refusal(prepareTrainingImages(uploads(11), { resolution: 16 }))).code).toBe("too_many");
    expect((await refusal(prepareTrainingImages(uploads(2), { resolution: 16 }))).message).toMatch(/2 images given; at least 3/);
    expect((await refusal(prepareTrainingImages([...uploads(3), uploads(1)[0]!], { resolution: 16 }))).code).toBe("duplicate");
    const ok = await prepareTrainingImages(uploads(3), { resolution: 16 });
    expect(ok.map((i) => i.name)).toEqual(["u0.png", "u1.png", "u2.png"]);
  });

  it("validates options on entry", () => {
    expect(() => resolveImageOptions({ resolution: 0 })).toThrow(/resolution must be an integer/);
    expect(() => resolveImageOptions({ resolution: 64, minCount: 5, maxCount: 4 })).toThrow(/minCount \(5\) exceeds maxCount \(4\)/);
    expect(() => resolveImageOptions({ resolution: 64, background: { r: 256, g: 0, b: 0 } })).toThrow(/background\.r/);
    expect(resolveImageOptions({ resolution: 512 })).toMatchObject({ minSide: 256, minCount: 3, maxCount: 10, background: { r: 255, g: 255, b: 255 } });
  });
});
