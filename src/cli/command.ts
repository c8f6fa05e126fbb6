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
