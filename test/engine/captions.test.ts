import { describe, expect, it } from "vitest";
import {
  CaptionError,
  captionsFor,
  OBJECT_TEMPLATES,
  placeholderString,
  STYLE_TEMPLATES,
  templatesFor,
} from "../../src/engine/captions.js";

describe("textual-inversion captions", () => {
  it("has diffusers' 27 object and 19 style templates, each with one slot", () => {
    expect(OBJECT_TEMPLATES).toHaveLength(27);
    expect(STYLE_TEMPLATES).toHaveLength(19);
    for (const t of [...OBJECT_TEMPLATES, ...STYLE_TEMPLATES]) expect(t.split("{}")).toHaveLength(2);
    // The order matters (DVAR's eval batch takes template i mod count): spot-check both ends.
    expect(OBJECT_TEMPLATES.slice(0, 4)).toEqual(["a photo of a {}", "a rendering of a {}", "a cropped photo of the {}", "the photo of a {}"]);
    expect(OBJECT_TEMPLATES[26]).toBe("a photo of a small {}");
    expect(STYLE_TEMPLATES[0]).toBe("a painting in the style of {}");
    expect(STYLE_TEMPLATES[18]).toBe("a large painting in the style of {}");
  });

  it("keeps diffusers' duplicated style templates (they weight the uniform draw)", () => {
    const count = (t: string) => STYLE_TEMPLATES.filter((s) => s === t).length;
    expect(count("a cropped painting in the style of {}")).toBe(2);
    expect(count("a close-up painting in the style of {}")).toBe(2);
    expect(new Set(OBJECT_TEMPLATES).size).toBe(27);
  });

  it("substitutes the multi-vector placeholder string", () => {
    const captions = captionsFor("object", ["<cat-toy>", "<cat-toy>_1", "<cat-toy>_2"]);
    expect(captions).toHaveLength(27);
    expect(captions[0]).toBe("a photo of a <cat-toy> <cat-toy>_1 <cat-toy>_2");
    expect(captionsFor("style", ["<s>"])[7]).toBe("a picture in the style of <s>");
    expect(placeholderString(["<a>", "<a>_1"])).toBe("<a> <a>_1");
  });

  it("keeps replacement patterns in a placeholder literal", () => {
    expect(captionsFor("object", ["$&"])[0]).toBe("a photo of a $&");
  });

  it("refuses an unknown property and an empty placeholder list", () => {
    expect(() => templatesFor("person" as never)).toThrow(CaptionError);
    expect(() => captionsFor("object", [])).toThrow(/at least one placeholder/);
  });

  it("returns frozen template lists", () => {
    expect(Object.isFrozen(OBJECT_TEMPLATES)).toBe(true);
    expect(Object.isFrozen(STYLE_TEMPLATES)).toBe(true);
  });
});
