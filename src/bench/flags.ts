/**
 * Flags of the benchmarks: each bench declares its own (integers with bounds, or strings),
 * all with defaults, so the resolved set reproduces the run and is printed as the command.
 * Any mistake is a BenchUsageError (exit 2 with the message), never a silent default.
 */
import { parseArgs } from "node:util";

export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

export type FlagSpec =
  | { kind: "int"; name: string; default: number; min: number; max?: number; help: string }
  | { kind: "string"; name: string; default: string; help: string }
  /** Comma-separated integers, each in min..max, no repeats. */
  | { kind: "ints"; name: string; default: number[]; min: number; max: number; help: string };

export type FlagValues = Record<string, number | string | number[]>;

export const runsFlag = (value: number): FlagSpec => ({ kind: "int", name: "runs", default: value, min: 1, max: 1000, help: "timed repetitions; the median is reported" });
/** Model benches need min 1: the first call of a graph creates its onnxruntime session. */
export const warmupFlag = (value: number, min = 0): FlagSpec => ({ kind: "int", name: "warmup", default: value, min, max: 1000, help: "untimed repetitions before timing" });
export const threadsFlag = (value: number): FlagSpec => ({ kind: "int", name: "threads", default: value, min: 0, max: 256, help: "onnxruntime intra-op threads (0: onnxruntime picks)" });

function parseInt(spec: Extract<FlagSpec, { kind: "int" }>, text: string): number {
  const range = spec.max === undefined ? `>= ${spec.min}` : `in ${spec.min}..${spec.max}`;
  if (!/^\d+$/.test(text)) throw new BenchUsageError(`--${spec.name} must be an integer ${range}, got "${text}"`);
  const value = Number(text);
  if (value < spec.min || (spec.max !== undefined && value > spec.max)) throw new BenchUsageError(`--${spec.name} must be an integer ${range}, got ${value}`);
  return value;
}

function parseInts(spec: Extract<FlagSpec, { kind: "ints" }>, text: string): number[] {
  const bad = () => new BenchUsageError(`--${spec.name} must be a comma-separated list of different integers in ${spec.min}..${spec.max}, got "${text}"`);
  const items = text.split(",");
  if (!items.every((i) => /^\d+$/.test(i))) throw bad();
  const values = items.map(Number);
  if (values.some((x) => x < spec.min || x > spec.max) || new Set(values).size !== values.length) throw bad();
  return values;
}

/** The bench's flag values (defaults filled in), plus --json and --help. */
export function parseBenchFlags(specs: readonly FlagSpec[], argv: string[]): { values: FlagValues; json: boolean; help: boolean } {
  const options = Object.fromEntries([
    ...specs.map((s) => [s.name, { type: "string" as const }]),
    ["json", { type: "boolean" as const }],
    ["help", { type: "boolean" as const, short: "h" }],
  ]);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new BenchUsageError(error instanceof Error ? error.message : String(error));
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: FlagValues = {};
  for (const spec of specs) {
    const text = raw[spec.name] as string | undefined;
    if (spec.kind === "int") values[spec.name] = text === undefined ? spec.default : parseInt(spec, text);
    else if (spec.kind === "ints") values[spec.name] = text === undefined ? spec.default : parseInts(spec, text);
    else {
      if (text !== undefined && text.length === 0) throw new BenchUsageError(`--${spec.name} must not be empty`);
      values[spec.name] = text ?? spec.default;
    }
  }
  return { values, json: raw.json === true, help: raw.help === true };
}

/** `npm run bench -- NAME --flag value ...` with every flag, as resolved. */
export function commandLine(name: string, specs: readonly FlagSpec[], values: FlagValues): string {
  const quote = (v: string) => (/^[\w./:@=+,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  return ["npm run bench --", name, ...specs.map((s) => `--${s.name} ${quote(String(values[s.name]))}`)].join(" ");
}

export function flagHelp(specs: readonly FlagSpec[]): string {
  return specs.map((s) => `    --${s.name.padEnd(14)} ${s.help} (default ${String(s.default)}${s.kind === "string" ? "" : `; ${s.max === undefined ? `>= ${s.min}` : `${s.min}..${s.max}`}`})`).join("\n");
}
