/** `dvar demo` on the tiny fixture pipeline and a concept folder with a README naming its initializer. */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runDemo, suggestedInitializer } from "../../src/cli/demo.js";
import { writeTrainingImages } from "../engine/inversion/fixture-images.js";

const dirs: string[] = [];
afterAll(async () => {
  vi.unstubAllEnvs();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("dvar demo", () => {
  it("inverts the concept from its suggested initializer, then draws it and the initializer word", async () => {
    const concept = await writeTrainingImages();
    const out = await mkdtemp(join(tmpdir(), "dvar-demo-"));
    dirs.push(concept, out);
    vi.stubEnv("XDG_CACHE_HOME", out); // compiled graphs go to a temporary cache
    await writeFile(join(concept, "README.md"), "# test\n\nSuggested initializer word: `cat` (one token).\n");
    expect(suggestedInitializer(concept)).toBe("cat");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let code;
    try {
      code = await runDemo(["--model", "test/fixtures/tiny-sd-a", "--concept", concept, "--out", out, "--max-steps", "3", "--json"]);
    } finally {
      stdout.mockRestore();
    }
    expect(code).toBe(0);
    for (const file of ["learned_embeds.safetensors", "history.svg", "summary.json"]) expect(existsSync(join(out, file)), file).toBe(true);
    expect(JSON.parse(await readFile(join(out, "history.json"), "utf8")).stop).toMatchObject({ alpha: 0.8, window: 310 }); // the default: dvar-tiny-sd
    expect((await readdir(join(out, "samples"))).length).toBe(4);
    expect((await readdir(join(out, "initializer-samples"))).length).toBe(4);
    await expect(runDemo(["--model", join(out, "missing")])).rejects.toThrow(/is not in this checkout/);
  });
});
