import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

/**
 * Transpiles one source folder (no bundling, imports kept) into `outDir` as ESM JavaScript, so
 * a test can run project code in plain `node` child processes (Node 20 cannot run .ts itself).
 * Only for folders whose imports stay inside the folder or reach node: built-ins or packages.
 */
export function transpileFolder(srcDir: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  for (const name of readdirSync(srcDir)) {
    if (!name.endsWith(".ts")) continue;
    const source = readFileSync(join(srcDir, name), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: name,
    });
    writeFileSync(join(outDir, name.replace(/\.ts$/, ".js")), outputText);
  }
}
