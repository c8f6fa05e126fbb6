/** Widening of 16-bit floats stored as raw words (safetensors F16 and BF16) to float32. */

/** IEEE 754 binary16 -> number (exact: every half is a float32). */
export function halfToFloat(word: number): number {
  const sign = word & 0x8000 ? -1 : 1;
  const exponent = (word >> 10) & 0x1f;
  const fraction = word & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 is the top half of a float32: widen by shifting into the high bits. */
export function bfloat16ToFloat(word: number, scratch = new DataView(new ArrayBuffer(4))): number {
  scratch.setUint32(0, (word & 0xffff) << 16);
  return scratch.getFloat32(0);
}

export function widenF16(words: Uint16Array): Float32Array {
  const out = new Float32Array(words.length);
  for (let i = 0; i < words.length; i++) out[i] = halfToFloat(words[i]!);
  return out;
}

export function widenBF16(words: Uint16Array): Float32Array {
  const out = new Float32Array(words.length);
  const scratch = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < words.length; i++) out[i] = bfloat16ToFloat(words[i]!, scratch);
  return out;
}
