import { parseArgs, type ParseArgsConfig } from "node:util";

/** One `dvar` subcommand. `run` returns the process exit code. */
export interface Subcommand {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

/** Bad flags or arguments: printed without a stack trace, exit code 2. */
export class CliUsageError extends Error {
  override name = "CliUsageError";
}

/**
 * Parses `argv` against `options` with node:util's parseArgs (strict, no positionals); any
 * mistake (unknown flag, missing value) becomes a CliUsageError, so it exits 2 with the message.
 */
export function parseFlags<const T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
}
