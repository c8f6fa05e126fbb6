/**
 * Timing helpers for the benchmarks: warm-up, then `runs` timed repetitions. Alternatives
 * that a ratio compares are timed interleaved (A, B, A, B, ...), so a load change on the
 * shared machine hits both sides alike; ratios are taken between medians.
 */

export interface Sampling {
  /** Timed repetitions (the median is reported). */
  runs: number;
  /** Untimed repetitions first (graph warm-up, JIT, caches). */
  warmup: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in (0, 100]) of ascending-sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile of no values");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Milliseconds one call of `fn` takes. */
export async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * Milliseconds of CPU time this process has used, all threads (onnxruntime's included). On a
 * shared machine it measures the work a case does, where wall time also measures the other
 * processes; it leaves out waiting (fsync, sockets), so I/O is timed by the wall clock.
 */
export function cpuClock(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall and CPU milliseconds of each repetition of each case. */
export interface Timings<K extends string> {
  wall: Record<K, number[]>;
  cpu: Record<K, number[]>;
}

/**
 * Times each named case `runs` times, interleaved, after `warmup` untimed calls of each.
 * Each repetition starts one case later than the previous one (A B C, B C A, C A B, ...), so
 * no case always runs right after the same other one. `fn(run)` gets the repetition index
 * (warm-up calls get negative ones), e.g. to pick a step.
 */
export async function timeInterleaved<K extends string>(
  sampling: Sampling,
  cases: Record<K, (run: number) => Promise<unknown>>,
): Promise<Timings<K>> {
  const names = Object.keys(cases) as K[];
  for (let w = 0; w < sampling.warmup; w++) for (const name of names) await cases[name](-1 - w);
  const empty = () => Object.fromEntries(names.map((n) => [n, [] as number[]])) as unknown as Record<K, number[]>;
  const times = { wall: empty(), cpu: empty() };
  for (let r = 0; r < sampling.runs; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length]!;
      const cpu = cpuClock();
      times.wall[name].push(await timeOnce(() => cases[name](r)));
      times.cpu[name].push(cpuClock() - cpu);
    }
  }
  return times;
}

/** The median of each case. */
export function medians<K extends string>(times: Record<K, number[]>): Record<K, number> {
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v as number[])])) as Record<K, number>;
}
