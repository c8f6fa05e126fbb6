/**
 * JSON that restores every float64 bit-exactly. Finite numbers already round-trip
 * through JSON.stringify/parse (shortest round-trip digits); -0, NaN and +-Infinity do
 * not, so they are written as {"$f64": "-0" | "NaN" | "Infinity" | "-Infinity"}.
 * Keys are sorted, so equal values always give equal text (used for config hashes).
 */

const SPECIAL = "$f64";

function encodeNumber(x: number): unknown {
  if (Object.is(x, -0)) return { [SPECIAL]: "-0" };
  if (!Number.isFinite(x)) return { [SPECIAL]: String(x) };
  return x;
}

function toPlain(value: unknown): unknown {
  if (typeof value === "number") return encodeNumber(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = toPlain(v);
    }
    return out;
  }
  return value;
}

/** Canonical JSON text: sorted keys, no undefined fields, special numbers tagged. */
export function stringifyExact(value: unknown): string {
  return JSON.stringify(toPlain(value));
}

function fromPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromPlain);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === SPECIAL && typeof entries[0]![1] === "string") {
      const text = entries[0]![1];
      if (text === "-0") return -0;
      if (text === "NaN" || text === "Infinity" || text === "-Infinity") return Number(text);
      throw new SyntaxError(`unknown ${SPECIAL} value ${JSON.stringify(text)}`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, fromPlain(v)]));
  }
  return value;
}

/** Parses text written by `stringifyExact`. */
export function parseExact(text: string): unknown {
  return fromPlain(JSON.parse(text));
}
