/**
 * The draft's message hash (draft-mwag-dske Appendix A): h(c, d, y1..ym) = d + Σ_{i=1..m} c^i·y_i
 * over GF(2^128), evaluated by Horner: ((…(y_m·c + y_{m−1})·c + …)·c + y_1)·c + d.
 */
import { GF128_BYTES, mulPreparedInPlace, prepare, toLimbs, fromLimbs } from "./gf128";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Horner accumulation over `count` 16-byte words of `buf` starting at `offset`, with a prepared
 * multiplier `k` (= c): returns Σ_{i=1..count} c^i·y_i as limbs in `s` (which must start zeroed
 * or hold a running value to continue a longer sum — see polyHash).
 */
export function hornerWords(s: Int32Array, k: Int32Array, buf: Uint8Array, offset: number, count: number): void {
  const byteOffset = buf.byteOffset + offset;
  if (LITTLE_ENDIAN && byteOffset % 4 === 0) {
    // Fast path: read the words as 32-bit limbs directly (the platform is little-endian like the words).
    const v = new Int32Array(buf.buffer, byteOffset, count * 4);
    for (let w = count - 1; w >= 0; w--) {
      const p = w * 4;
      s[0] ^= v[p];
      s[1] ^= v[p + 1];
      s[2] ^= v[p + 2];
      s[3] ^= v[p + 3];
      mulPreparedInPlace(s, k);
    }
    return;
  }
  // Horner runs from the last word to the first.
  for (let w = count - 1; w >= 0; w--) {
    const p = offset + w * GF128_BYTES;
    s[0] ^= buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
    s[1] ^= buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24);
    s[2] ^= buf[p + 8] | (buf[p + 9] << 8) | (buf[p + 10] << 16) | (buf[p + 11] << 24);
    s[3] ^= buf[p + 12] | (buf[p + 13] << 8) | (buf[p + 14] << 16) | (buf[p + 15] << 24);
    mulPreparedInPlace(s, k);
  }
}

/**
 * Hash a flat buffer of whole words (length a multiple of 16) with key word c and pad word d.
 * Internal fast path used by the gf128 scheme.
 */
export function polyHashFlat(c: Uint8Array, d: Uint8Array, words: Uint8Array): Uint8Array {
  if (c.length !== GF128_BYTES || d.length !== GF128_BYTES) throw new RangeError("c and d must be 16 bytes");
  if (words.length % GF128_BYTES !== 0) throw new RangeError("words must be a multiple of 16 bytes");
  const k = prepare(c);
  const s = new Int32Array(4);
  hornerWords(s, k, words, 0, words.length / GF128_BYTES);
  const dl = toLimbs(d);
  for (let j = 0; j < 4; j++) s[j] ^= dl[j];
  const out = fromLimbs(s);
  k.fill(0);
  s.fill(0);
  dl.fill(0);
  return out;
}

/**
 * h(c, d, y_1..y_m) = d + Σ_{i=1..m} c^i·y_i. `words` is either a list of 16-byte words or one
 * buffer whose length is a multiple of 16 (y_1 first).
 */
export function polyHash(c: Uint8Array, d: Uint8Array, words: readonly Uint8Array[] | Uint8Array): Uint8Array {
  if (words instanceof Uint8Array) return polyHashFlat(c, d, words);
  const flat = new Uint8Array(words.length * GF128_BYTES);
  words.forEach((w, i) => {
    if (!(w instanceof Uint8Array) || w.length !== GF128_BYTES) throw new RangeError(`word ${i + 1} must be 16 bytes`);
    flat.set(w, i * GF128_BYTES);
  });
  try {
    return polyHashFlat(c, d, flat);
  } finally {
    flat.fill(0);
  }
}
