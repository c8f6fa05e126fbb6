/** Test helpers for float32 comparisons. */

const scratch = new DataView(new ArrayBuffer(4));

/** Float32 bits mapped to a monotonic integer line, so ulp distance is a subtraction. */
function orderedBits(x: number): number {
  scratch.setFloat32(0, x);
  const bits = scratch.getInt32(0);
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

/** Number of float32 values between a and b (0 when bit-identical, +0/-0 count as equal). */
export function ulpDistance(a: number, b: number): number {
  return Math.abs(orderedBits(a) - orderedBits(b));
}

export function maxUlpDistance(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, ulpDistance(actual[i]!, expected[i]!));
  return worst;
}

/** Describes the first element where two arrays differ bit-wise, or returns null. */
export function firstMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      return `index ${i}: ${actual[i]} != ${expected[i]} (${ulpDistance(actual[i]!, expected[i]!)} ulp)`;
    }
  }
  return null;
}

/** Spacing of float32 values at |x| (the distance from |x| to the next float32 up). */
export function ulpOf(x: number): number {
  const magnitude = Math.abs(Math.fround(x));
  scratch.setFloat32(0, magnitude);
  scratch.setInt32(0, scratch.getInt32(0) + 1);
  return scratch.getFloat32(0) - magnitude;
}
