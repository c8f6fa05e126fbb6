import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { runInvert, type CliIo } from "../../src/cli/invert/index.js";
import { parseInvertArgs } from "../../src/cli/invert/args.js";
import { decodeCheckpoint } from "../../src/core/checkpoint/index.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dvar-invert-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Captures output; a ticking clock makes wall times (and so whole checkpoints) reproducible. */
function testIo(options: { isTTY?: boolean; interruptOnLine?: number } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let t = 0;
  let interrupt: (() => void) | null = null;
  const io: CliIo = {
    stdout: {
      isTTY: options.isTTY ?? false,
      write(text: string) {
        out.push(text);
        if (out.length === options.interruptOnLine) interrupt?.();
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

describe("dvar invert --synthetic", () => {
  it("runs in slices to the DVAR stop and writes checkpoint, params, histories and summary", async () => {
    const dir = await tempDir();
    const { io, out } = testIo();
    const code = await runInvert(["--synthetic", "--out", dir, "--slice-steps", "64"], io);
    expect(code).toBe(0);
    const text = out.join("");
    expect(text).toMatch(/^step 64\/6100 .* L_det 0\.\d+ {2}DVAR ratio - {2}ETA <= \d+s$/m);
    expect(text).toMatch(/Stopped at step \d+: stopping rule 'dvar' fired/);
    const summary = JSON.parse(await readFile(join(dir, "summary.json"), "utf8"));
    expect(summary.status).toBe("converged");
    expect(summary.stoppedAtStep).toBeGreaterThan(310);
    expect(summary.stoppedAtStep).toBeLessThan(1000);
    const state = decodeCheckpoint(await readFile(join(dir, "checkpoint.safetensors")));
    expect(state.step).toBe(summary.stoppedAtStep);
    expect(state.finished?.kind).toBe("converged");
    expect(summary.finalLdet).toBe(state.history.ldet[state.step - 1]);
    const csv = (await readFile(join(dir, "history.csv"), "utf8")).trim().split("\n");
    expect(csv[0]).toBe("step,train_loss,ldet,grad_norm,criterion,score,wall_ms");
    expect(csv.length).toBe(state.step + 1);
    const history = JSON.parse(await readFile(join(dir, "history.json"), "utf8"));
    expect(history.history.ldet.length).toBe(state.step);
    expect(history.history.criterion[0]).toBeNull();
    expect(summary.files).toEqual(["checkpoint.safetensors", "params.safetensors", "history.json", "history.csv", "summary.json"].map((f) => join(dir, f)));
  });

  it("prints JSON lines with --json and a single updating line on a TTY", async () => {
    const json = testIo();
    expect(await runInvert(["--synthetic", "--json", "--out", await tempDir(), "--stop", "fixed", "--max-steps", "30", "--slice-steps", "10"], json.io)).toBe(0);
    const lines = json.out.join("").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(["progress", "progress", "progress", "done"]);
    expect(lines[2]).toMatchObject({ step: 30, rule: "fixed" });
    expect(lines[3]).toMatchObject({ status: "converged", stoppedAtStep: 30 });
    const tty = testIo({ isTTY: true });
    await runInvert(["--synthetic", "--out", await tempDir(), "--max-steps", "20", "--slice-steps", "10"], tty.io);
    expect(tty.out[0]).toMatch(/^\r\x1b\[2K\[#{10}-{10}\] step 10\/20 /);
    expect(tty.out.join("")).toMatch(/Stopped at step 20: reached max_steps \(20\)/);
  });

  it("on interrupt writes a checkpoint (exit 130) that --resume continues to the very same result", async () => {
    const whole = await tempDir();
    expect(await runInvert(["--synthetic", "--out", whole, "--slice-steps", "50", "--seed", "7"], testIo().io)).toBe(0);

    const parted = await tempDir();
    const first = testIo({ interruptOnLine: 3 });
    expect(await runInvert(["--synthetic", "--out", parted, "--slice-steps", "50", "--seed", "7"], first.io)).toBe(130);
    expect(first.err.join("")).toMatch(/interrupted at step 150; continue with: dvar invert --synthetic --resume /);
    const checkpoint = join(parted, "checkpoint.safetensors");
    expect(decodeCheckpoint(await readFile(checkpoint)).step).toBe(150); // interrupted after the third slice's progress line
    expect(JSON.parse(await readFile(join(parted, "summary.json"), "utf8")).status).toBe("interrupted");

    expect(await runInvert(["--synthetic", "--resume", checkpoint, "--seed", "7", "--slice-steps", "50"], testIo().io)).toBe(0);
    // Resuming a finished run runs nothing and reports the same end.
    const again = testIo();
    expect(await runInvert(["--synthetic", "--resume", checkpoint, "--json"], again.io)).toBe(0);
    const lines = again.out.join("").trim().split("\n").map((l) => JSON.parse(l));
    const finalSummary = JSON.parse(await readFile(join(whole, "summary.json"), "utf8"));
    expect(lines.at(-1)).toMatchObject({ status: "converged", stoppedAtStep: finalSummary.stoppedAtStep, finalLdet: finalSummary.finalLdet });
    for (const file of ["checkpoint.safetensors", "params.safetensors", "history.csv"]) {
      const a = await readFile(join(whole, file));
      const b = await readFile(join(parted, file));
      expect(b.equals(a), file).toBe(true);
    }
  });

  it("refuses --resume flags that contradict the checkpoint, and corrupted checkpoints", async () => {
    const dir = await tempDir();
    await runInvert(["--synthetic", "--out", dir, "--max-steps", "5"], testIo().io);
    const checkpoint = join(dir, "checkpoint.safetensors");
    await expect(runInvert(["--synthetic", "--resume", checkpoint, "--seed", "1"], testIo().io)).rejects.toThrow(/--seed 1 does not match/);
    await expect(runInvert(["--synthetic", "--resume", checkpoint, "--stop", "hall"], testIo().io)).rejects.toThrow(/--stop hall/);
    const bytes = await readFile(checkpoint);
    bytes[bytes.length - 3]! ^= 1;
    await writeFile(checkpoint, bytes);
    await expect(runInvert(["--synthetic", "--resume", checkpoint], testIo().io)).rejects.toThrow(/checkpoint refused \(checksum\)/);
  });
});

describe("dvar invert flags", () => {
  async function exitCode(argv: string[]) {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      const code = await main(argv);
      return { code, err: stderr.mock.calls.map((c) => String(c[0])).join(""), out: stdout.mock.calls.map((c) => String(c[0])).join("") };
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  }

  it("answer bad flags with a clear message and exit code 2", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["invert"], /missing --model, --images, --token: give --model, --images and --token \(or --resume, or --synthetic\)/],
      [["invert", "--synthetic", "--model", "m"], /--synthetic takes no model inputs \(got --model\)/],
      [["invert", "--model", "m", "--images", "i", "--token", "t", "--lr", "0"], /--lr must be a positive number/],
      [["invert", "--model", "m", "--images", "i", "--token", "t", "--property", "colour"], /--property must be object or style/],
      [["invert", "--synthetic", "--stop", "clip"], /--stop must be one of dvar, dvar-paper, dvar-tiny-sd, fixed, ema, hall, trend/],
      [["invert", "--synthetic", "--max-steps", "0"], /--max-steps must be an integer >= 1/],
      [["invert", "--synthetic", "--max-steps", "1e3"], /--max-steps must be an integer/],
      [["invert", "--synthetic", "--seed", "-1"], /--seed/],
      [["invert", "--synthetic", "--frobnicate"], /Unknown option '--frobnicate'/],
      [["invert", "--synthetic", "extra"], /positional/],
      [["invert", "--synthetic", "--resume", "/nonexistent/checkpoint.safetensors"], /cannot read --resume/],
    ];
    for (const [argv, message] of cases) {
      const { code, err } = await exitCode(argv);
      expect(code, argv.join(" ")).toBe(2);
      expect(err).toMatch(message);
    }
  });

  it("takes --images as a folder or several files (files may follow as arguments) and the model flags", () => {
    const options = parseInvertArgs(["--model", "m", "--images", "a.png", "b.png", "--images", "c.webp", "--token", "<t>", "--vectors", "2", "--no-scale-lr", "--lr", "1e-3"]);
    expect(options).toMatchObject({ model: "m", images: ["a.png", "b.png", "c.webp"], token: "<t>", vectors: 2, scaleLr: false, learningRate: 1e-3 });
    expect(parseInvertArgs(["--resume", "x/checkpoint.safetensors"]).resume).toBe("x/checkpoint.safetensors");
    expect(() => parseInvertArgs(["--model", "m", "--token", "t", "a.png"])).toThrow(/unexpected positional argument 'a.png' \(image files follow --images\)/);
  });

  it("prints help that lists every flag the parser accepts", async () => {
    const { code, out } = await exitCode(["invert", "--help"]);
    expect(code).toBe(0);
    const flags = ["--synthetic", "--stop", "--max-steps", "--slice-steps", "--seed", "--out", "--json", "--resume", "--help", "--model", "--images",
      "--token", "--init", "--vectors", "--property", "--lr", "--no-scale-lr", "--batch-size", "--eval-batch-size", "--threads", "--cache-dir"];
    for (const flag of flags) {
      expect(out).toContain(flag);
    }
    expect((await exitCode(["--help"])).out).toMatch(/invert +learn a Textual Inversion embedding/);
  });

  it("Ctrl-C (a real SIGINT listener, through main) ends the run after the current slice with a checkpoint", async () => {
    const dir = await tempDir();
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    let writes = 0;
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => {
      if (++writes === 1) process.emit("SIGINT"); // during the first progress line
      return true;
    });
    try {
      expect(await main(["invert", "--synthetic", "--json", "--out", dir, "--slice-steps", "40"])).toBe(130);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(decodeCheckpoint(await readFile(join(dir, "checkpoint.safetensors"))).step).toBe(40);
    expect(process.listenerCount("SIGINT")).toBe(0);
  });
});
