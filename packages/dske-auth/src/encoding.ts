/**
 * Unambiguous encoding of a list of byte strings ("parts") into 16-byte words for the GF(2^128)
 * polynomial hash.
 *
 * Layout: every part, zero-padded to whole words, in order; then the length words: the byte
 * length of each part (u32 LE) followed by the number of parts (u32 LE) as the very last 4 bytes,
 * left-padded with zero bytes to whole words. So
 *   words = Σ ceil(len_i / 16) + ceil((n + 1) / 4).
 *
 * Why this is injective, also across different word counts (the draft's hash has no length
 * binding: y and y‖0^128 hash the same): the last word holds n ≥ 1 in its top bytes, so it is
 * never zero and the polynomial Σ c^i·y_i has degree exactly m; from the last word one reads n,
 * then the n lengths, then the parts. Two different part lists therefore give two different
 * non-zero-leading coefficient sequences, i.e. two different polynomials.
 */
import { GF128_BYTES } from "./gf128";

/** Number of 16-byte words `encodeParts` produces for these part lengths. */
export function encodedWordCount(lengths: readonly number[]): number {
  let words = 0;
  for (const len of lengths) words += Math.ceil(len / GF128_BYTES);
  return words + Math.ceil((lengths.length + 1) / 4);
}

/** Encode parts as whole words (see module comment). Parts must be < 2^32 bytes; at least one part. */
export function encodeParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0) throw new RangeError("at least one part is required");
  const lengths = parts.map((p) => p.length);
  for (const len of lengths) if (len > 0xffffffff) throw new RangeError("part too long");
  const words = encodedWordCount(lengths);
  const out = new Uint8Array(words * GF128_BYTES);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += Math.ceil(p.length / GF128_BYTES) * GF128_BYTES;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // Trailer ends exactly at the end: n lengths, then the count.
  let t = out.length - 4 * (parts.length + 1);
  for (const len of lengths) {
    view.setUint32(t, len, true);
    t += 4;
  }
  view.setUint32(t, parts.length, true);
  return out;
}

/** Inverse of encodeParts (used by tests to demonstrate injectivity); throws on malformed input. */
export function decodeParts(words: Uint8Array): Uint8Array[] {
  if (words.length === 0 || words.length % GF128_BYTES !== 0) throw new RangeError("not whole words");
  const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
  const n = view.getUint32(words.length - 4, true);
  const trailerWords = Math.ceil((n + 1) / 4);
  if (n === 0 || trailerWords * GF128_BYTES > words.length) throw new RangeError("bad part count");
  const lengths: number[] = [];
  let t = words.length - 4 * (n + 1);
  for (let i = 0; i < n; i++, t += 4) lengths.push(view.getUint32(t, true));
  if (encodedWordCount(lengths) * GF128_BYTES !== words.length) throw new RangeError("lengths do not match");
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const len of lengths) {
    parts.push(words.slice(off, off + len));
    off += Math.ceil(len / GF128_BYTES) * GF128_BYTES;
  }
  return parts;
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Decimal ASCII of an integer (e.g. an HTTP status). */
export function decimalBytes(n: number): Uint8Array {
  return utf8.encode(String(n));
}
