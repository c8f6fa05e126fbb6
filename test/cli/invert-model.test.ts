/** `dvar invert` on a model folder (the complete tiny random-weight pipeline test/fixtures/tiny-sd-a). */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runInvert } from "../../src/cli/invert/index.js";
import { runGenerate } from "../../src/cli/generate.js";
import { decodeCheckpoint } from "../../src/core/checkpoint/index.js";
import { type PtTensor, readTorchPt } from "../../src/engine/embeddings/torch-pt.js";
import { parseSafetensors } from "../engine/embeddings/safetensors-bytes.js";
import { writeTrainingImages } from "../engine/inversion/fixture-images.js";

const MODEL = "test/fixtures/tiny-sd-a";
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dvar-invert-model-"));
  dirs.push(dir);
  return dir;
}
let images: string;
let cache: string;
beforeAll(async () => {
  images = await writeTrainingImages();
  dirs.push(images);
  cache = await tempDir();
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function testIo(interruptOnLine?: number) {
  const out: string[] = [];
  const err: string[] = [];
  let t = 0;
  let interrupt: (() => void) | null = null;
  const io: CliIo = {
    stdout: {
      isTTY: false,
      write(text: string) {
        out.push(text);
        if (out.length === interruptOnLine) interrupt?.();
      },
    },
    stderr: { write: (text: string) => err.push(text) },
    now: () => (t += 1),
    onInterrupt(handler) {
      interrupt = handler;
      return () => (interrupt = null);
    },
  };
  return { io, out, err };
}

const args = (out: string, imageDir = images) => [
  "--model", MODEL, "--images", imageDir, "--token", "<tst>", "--init", "cat", "--max-steps", "6", "--slice-steps", "2",
  "--batch-size", "2", "--eval-batch-size", "2", "--threads", "1", "--cache-dir", cache, "--out", out,
];

describe("dvar invert --model", () => {
  it("writes the three embedding files, histories with a plot, a checkpoint and a summary; Ctrl-C + --resume gives byte-identical embeddings", async () => {
    const whole = await tempDir();
    const run = testIo();
    expect(await runInvert(args(whole), run.io)).toBe(0);
    const text = run.out.join("");
    expect(run.out[0]).toBe("<tst>: 3 images, initializer cat</w> (word), lr 0.01, batch 2, eval batch 2, from step 0\n");
    expect(text).toMatch(/^step 2\/6 .* L_det \d\.\d+ {2}DVAR ratio - {2}ETA <= \d+s$/m);
    expect(text).toMatch(/Stopped at step 6: reached max_steps \(6\)/);

    // The diffusers file, read with an independent parser: {"<tst>": F32 [1, 32]} holding the final vectors.
    const state = decodeCheckpoint(await readFile(join(whole, "checkpoint.safetensors")));
    const diffusers = parseSafetensors(await readFile(join(whole, "learned_embeds.safetensors")));
    expect(diffusers.header).toEqual({ __metadata__: { format: "pt" }, "<tst>": { dtype: "F32", shape: [1, 32], data_offsets: [0, 128] } });
    expect(Buffer.from(diffusers.data).equals(Buffer.from(state.params.buffer, state.params.byteOffset, 128))).toBe(true);
    const a1111 = parseSafetensors(await readFile(join(whole, "tst.safetensors")));
    expect(a1111.header).toMatchObject({ __metadata__: { name: "tst", step: "6" }, emb_params: { dtype: "F32", shape: [1, 32] } });
    // A1111's own .pt: the torch.save dict, read back through the restricted unpickler.
    const pt = readTorchPt(await readFile(join(whole, "tst.pt"))) as Map<string, unknown>;
    expect([pt.get("name"), pt.get("step")]).toEqual(["tst", 6]);
    const ptVectors = (pt.get("string_to_param") as Map<string, PtTensor>).get("*")!;
    expect(ptVectors.shape).toEqual([1, 32]);
    expect(Array.from(ptVectors.data)).toEqual(Array.from(state.params));
    const history = JSON.parse(await readFile(join(whole, "history.json"), "utf8"));
    expect(history.columns.step).toEqual([1, 2, 3, 4, 5, 6]);
    expect(history.columns.l_det).toEqual(state.history.ldet);
    expect(await readFile(join(whole, "history.svg"), "utf8")).toMatch(/<svg[\s\S]*L_det[\s\S]*<\/svg>/);
    expect((await readFile(join(whole, "history.csv"), "utf8")).split("\n")[0]).toBe("step,train_loss,l_det,dvar_ratio,grad_norm,wall_time_s");
    expect(JSON.parse(await readFile(join(whole, "summary.json"), "utf8"))).toMatchObject({ status: "max_steps", stoppedAtStep: 6 });

    const parted = await tempDir();
    const first = testIo(2); // the start line, then the first slice's progress line
    expect(await runInvert(args(parted), first.io)).toBe(130);
    expect(first.err.join("")).toMatch(/interrupted at step 2; continue with: dvar invert --resume .*checkpoint\.safetensors/);
    expect(await runInvert(["--resume", join(parted, "checkpoint.safetensors"), "--threads", "1", "--cache-dir", cache, "--slice-steps", "3"], testIo().io)).toBe(0);
    for (const file of ["learned_embeds.safetensors", "tst.safetensors", "tst.pt"]) {
      expect((await readFile(join(parted, file))).equals(await readFile(join(whole, file))), file).toBe(true);
    }
    expect(JSON.parse(await readFile(join(parted, "history.json"), "utf8")).columns.train_loss).toEqual(history.columns.train_loss);

    // Both files load back through dvar generate and draw the same images.
    const draw = async (extra: string[]) => {
      const out = await tempDir();
      expect(await runGenerate(["--model", MODEL, "--prompt", "a photo of <tst>", "--n", "1", "--steps", "2", "--threads", "1", "--out", out, ...extra], { write: () => true })).toBe(0);
      return readFile(join(out, "image-0-seed-0.png"));
    };
    const fromDiffusers = await draw(["--embedding", join(whole, "learned_embeds.safetensors")]);
    const fromA1111 = await draw(["--embedding", join(whole, "tst.safetensors"), "--token", "<tst>"]);
    expect(fromA1111.equals(fromDiffusers)).toBe(true);
    const fromPt = await draw(["--embedding", join(whole, "tst.pt"), "--token", "<tst>"]);
    expect(fromPt.equals(fromDiffusers)).toBe(true);
  });

  it("refuses to resume when a training image changed since the run started", async () => {
    const own = await tempDir();
    await cp(images, own, { recursive: true });
    const out = await tempDir();
    expect(await runInvert(args(out, own), testIo(2).io)).toBe(130);
    const bytes = await readFile(join(own, "img1.png"));
    bytes[bytes.length - 20]! ^= 0xff;
    await writeFile(join(own, "img1.png"), bytes);
    await expect(runInvert(["--resume", join(out, "checkpoint.safetensors"), "--threads", "1", "--cache-dir", cache], testIo().io)).rejects.toThrow(
      /training image .*img1\.png differs from the one this run was started with/,
    );
  });

  it("refuses --init best without a scorer, a token already in the vocabulary, and a multi-token initializer", async () => {
    const out = await tempDir();
    const base = args(out);
    const withFlag = (flag: string, value: string) => base.map((v, i) => (base[i - 1] === flag ? value : v));
    const noScorer = withFlag("--init", "best").map((v) => (v === MODEL ? "test/fixtures/tiny-sd-b" : v));
    await expect(runInvert(noScorer, testIo().io)).rejects.toThrow(/--init best needs an image-text scorer, and .*tiny-sd-b has no image_encoder\//);
    await expect(runInvert(withFlag("--token", "ren"), testIo().io)).rejects.toThrow(/already contains the token "ren"/);
    await expect(runInvert(withFlag("--init", "dogs"), testIo().io)).rejects.toThrow(/must be a single token/);
  });
});
