/**
 * The `dvar` command line: a thin router over subcommands. Each subcommand owns
 * its flags and help text; errors surface as a message on stderr and exit code 2
 * (usage) or 1 (failure), never as a stack trace.
 */
import { CliUsageError, type Subcommand } from "./command.js";
import { demoCommand } from "./demo.js";
import { evaluateCommand } from "./evaluate.js";
import { generateCommand } from "./generate.js";
import { invertCommand } from "./invert/index.js";
import { tiGradCommand } from "./ti-grad.js";
import { keysCommand } from "./keys.js";
import { serveCommand } from "./serve.js";

/** Every subcommand, in the order `dvar --help` lists them. */
const subcommands: Subcommand[] = [
  invertCommand,
  generateCommand,
  demoCommand,
  evaluateCommand,
  serveCommand,
  keysCommand,
  tiGradCommand,
];

function usage(): string {
  const lines = [
    "Usage: dvar <command> [options]",
    "",
    "Textual Inversion with DVAR early stopping.",
    "",
    "Commands:",
    ...subcommands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    "",
    "Run `dvar <command> --help` for the options of a command.",
  ];
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = subcommands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`dvar: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof CliUsageError) {
      process.stderr.write(`dvar ${name}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`dvar ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
