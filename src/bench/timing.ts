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
 * Times each named case `runs` times, interleaved, after `warmup` untimed calls of each.
 * `fn(run)` gets the repetition index (warm-up calls get negative ones), e.g. to pick a step.
 */
export async function timeInterleaved<K extends string>(
  sampling: Sampling,
  cases: Record<K, (run: number) => Promise<unknown>>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(cases) as K[];
  for (let w = 0; w < sampling.warmup; w++) for (const name of names) await cases[name](-1 - w);
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as unknown as Record<K, number[]>;
  for (let r = 0; r < sampling.runs; r++) {
    for (const name of names) times[name].push(await timeOnce(() => cases[name](r)));
  }
  return times;
}

/** The medians of `timeInterleaved`'s result. */
export function medians<K extends string>(times: Record<K, number[]>): Record<K, number> {
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v as number[])])) as Record<K, number>;
}
