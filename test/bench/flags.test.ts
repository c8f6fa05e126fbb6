import { describe, expect, it } from "vitest";
import { BenchUsageError, commandLine, parseBenchFlags, runsFlag, warmupFlag, type FlagSpec } from "../../src/bench/flags.js";
import { median, percentile, timeInterleaved } from "../../src/bench/timing.js";

const specs: FlagSpec[] = [
  runsFlag(5),
  warmupFlag(1, 1),
  { kind: "ints", name: "every", default: [1, 2, 5], min: 1, max: 100, help: "k" },
  { kind: "string", name: "model", default: "models/tiny-sd", help: "m" },
];

describe("bench flags", () => {
  it("fills defaults, parses values, and the printed command parses back to the same values", () => {
    const { values, json } = parseBenchFlags(specs, ["--runs", "7", "--every", "10,3", "--json"]);
    expect(values).toEqual({ runs: 7, warmup: 1, every: [10, 3], model: "models/tiny-sd" });
    expect(json).toBe(true);
    const command = commandLine("slice", specs, values);
    expect(command).toBe("npm run bench -- slice --runs 7 --warmup 1 --every 10,3 --model models/tiny-sd");
    const argv = command.split(" ").slice(5);
    expect(parseBenchFlags(specs, argv).values).toEqual(values);
  });

  it.each([
    [["--runs", "0"], /--runs must be an integer in 1..1000, got 0/],
    [["--runs", "2.5"], /--runs must be an integer/],
    [["--warmup", "0"], /--warmup must be an integer in 1..1000/],
    [["--every", "1,1"], /different integers/],
    [["--every", "1,x"], /comma-separated list/],
    [["--model", ""], /--model must not be empty/],
    [["--nope"], /Unknown option '--nope'/],
    [["stray"], /positional/i],
  ])("refuses %j with a clear message", (argv, message) => {
    expect(() => parseBenchFlags(specs, argv)).toThrow(BenchUsageError);
    expect(() => parseBenchFlags(specs, argv)).toThrow(message);
  });
});

describe("bench timing helpers", () => {
  it("median and nearest-rank percentiles", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(() => median([])).toThrow(RangeError);
  });

  it("interleaves cases in rotating order, warm-up calls first with negative run indices", async () => {
    const calls: string[] = [];
    const record = (name: string) => async (r: number) => calls.push(`${name}${r}`);
    const times = await timeInterleaved({ runs: 3, warmup: 1 }, { a: record("a"), b: record("b"), c: record("c") });
    expect(calls).toEqual(["a-1", "b-1", "c-1", "a0", "b0", "c0", "b1", "c1", "a1", "c2", "a2", "b2"]);
    expect(times.wall.a).toHaveLength(3);
    expect(times.cpu.c).toHaveLength(3);
    expect([...times.wall.b, ...times.cpu.b].every((t) => t >= 0)).toBe(true);
  });
});
