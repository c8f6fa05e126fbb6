import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";

/**
 * Transpiles the project's `src/` and `functions/` (recursively, no type check) into `outDir`,
 * with the JSON they import and links to node_modules and models/, so a test can run an entrypoint such as
 * functions/run-slice.ts in a plain `node` child process (Node 20 cannot run .ts itself), from
 * the sources under test rather than a possibly stale dist/.
 */
export function transpileProject(projectRoot: string, outDir: string): void {
  for (const folder of ["src", "functions"]) transpileTree(join(projectRoot, folder), join(outDir, folder));
  for (const json of ["iac/modal/deployment.json"]) {
    mkdirSync(dirname(join(outDir, json)), { recursive: true });
    cpSync(join(projectRoot, json), join(outDir, json));
  }
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  symlinkSync(join(projectRoot, "node_modules"), join(outDir, "node_modules"), "dir");
  // The model catalog finds the bundled model next to the package.json above it.
  symlinkSync(join(projectRoot, "models"), join(outDir, "models"), "dir");
}

function transpileTree(srcDir: string, outDir: string): void {
  for (const name of readdirSync(srcDir)) {
    const path = join(srcDir, name);
    if (statSync(path).isDirectory()) {
      transpileTree(path, join(outDir, name));
      continue;
    }
    if (!name.endsWith(".ts")) continue;
    const { outputText } = ts.transpileModule(readFileSync(path, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: relative(srcDir, path),
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, name.replace(/\.ts$/, ".js")), outputText);
  }
}
