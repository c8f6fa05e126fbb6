/**
 * An image grid for docs/: one block per concept with four rows (reference images, samples
 * from the initializer token, from the DVAR embedding, from the baseline embedding), each
 * image scaled up by an integer factor with nearest-neighbour sampling, labels in SVG.
 */
import sharp, { type OverlayOptions } from "sharp";
import type { GeneratedImage } from "../generate/pipeline.js";

/** Images for the grid: the references and the samples each embedding was scored with. */
export interface ConceptSamples {
  references: GeneratedImage[];
  init: GeneratedImage[];
  dvar: GeneratedImage[];
  baseline: GeneratedImage[];
}

const ROWS: Array<[keyof ConceptSamples, string]> = [
  ["references", "training images"],
  ["init", "initializer word"],
  ["dvar", "DVAR embedding"],
  ["baseline", "baseline embedding"],
];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export async function conceptGridPng(concepts: ReadonlyArray<{ name: string; samples: ConceptSamples }>, scale = 2): Promise<Buffer> {
  const first = concepts[0]?.samples.references[0];
  if (!first) throw new Error("no images for the grid");
  const cell = first.width * scale;
  const label = 150, pad = 4, title = 18;
  const columns = Math.max(...concepts.flatMap((c) => ROWS.map(([k]) => c.samples[k].length)));
  const blockHeight = title + ROWS.length * (cell + pad);
  const width = label + columns * (cell + pad);
  const height = concepts.length * blockHeight;
  const composites: OverlayOptions[] = [];
  const texts: string[] = [];
  for (const [b, concept] of concepts.entries()) {
    const top = b * blockHeight;
    texts.push(`<text x="4" y="${top + 14}" font-size="13" font-weight="bold">${escapeXml(concept.name)}</text>`);
    for (const [r, [key, name]] of ROWS.entries()) {
      const y = top + title + r * (cell + pad);
      texts.push(`<text x="4" y="${y + cell / 2 + 4}" font-size="11">${name}</text>`);
      for (const [i, image] of concept.samples[key].entries()) {
        const input = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
          .resize(cell, cell, { kernel: "nearest" })
          .png()
          .toBuffer();
        composites.push({ input, left: label + i * (cell + pad), top: y });
      }
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">${texts.join("")}</svg>`;
  composites.unshift({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite(composites).png().toBuffer();
}
