/**
 * A compact ITS key-check word for random keys: check = Σ_i y_i^3 over GF(2^128), where y_i are
 * the 16-byte words of the key padded with RANDOM bytes to a multiple of 16. It lives beside the
 * key validation it serves (key.ts: makeSplitKey / reconstructKey, key-source.ts); the field
 * arithmetic is @dske/auth's `gf128`.
 *
 * Security sketch (see README): Shamir sharing is linear and perfectly hiding, so fewer than k
 * cheating share holders can only add a known offset Δ = (δ_i, δt) to the reconstructed
 * (y, check). Acceptance needs Σ (y_i+δ_i)^3 − y_i^3 = δt, i.e. Σ (δ_i·y_i^2 + δ_i^2·y_i + δ_i^3)
 * = δt. If some δ_i ≠ 0 the left side is a non-zero polynomial of degree 2 in the uniformly
 * random, unknown y_i: probability ≤ 2/2^128 (Schwartz–Zippel). If all δ_i = 0 and δt ≠ 0 it
 * always fails. Requires every word of y to be uniform, hence random (not zero) padding.
 */
import { GF128_BYTES, constantTimeEqual, gf128 } from "@dske/auth";

/** Σ_i y_i^3 over the 16-byte words of `words` (length a non-zero multiple of 16). Constant time. */
export function keyCheckWord(words: Uint8Array): Uint8Array {
  if (words.length === 0 || words.length % GF128_BYTES !== 0) {
    throw new RangeError("key-check input must be a non-empty multiple of 16 bytes (pad the key with random bytes)");
  }
  const acc = new Uint8Array(GF128_BYTES);
  for (let off = 0; off < words.length; off += GF128_BYTES) {
    const y = words.subarray(off, off + GF128_BYTES);
    const square = gf128.mul(y, y);
    const cube = gf128.mul(square, y);
    for (let j = 0; j < GF128_BYTES; j++) acc[j] ^= cube[j];
    square.fill(0);
    cube.fill(0);
  }
  return acc;
}

/** Constant-time check that `check` = keyCheckWord(words). */
export function verifyKeyCheck(words: Uint8Array, check: Uint8Array): boolean {
  if (check.length !== GF128_BYTES) return false;
  const want = keyCheckWord(words);
  const ok = constantTimeEqual(want, check);
  want.fill(0);
  return ok;
}

/** Pad a key with random bytes to a multiple of 16 (at least 16), as keyCheckWord requires. */
export function padKeyForCheck(key: Uint8Array, randomBytes: (n: number) => Uint8Array): Uint8Array {
  const len = Math.max(GF128_BYTES, Math.ceil(key.length / GF128_BYTES) * GF128_BYTES);
  const out = new Uint8Array(len);
  out.set(key);
  const fill = len - key.length;
  if (fill > 0) {
    const r = randomBytes(fill);
    if (r.length !== fill) throw new RangeError("randomBytes returned the wrong length");
    out.set(r, key.length);
  }
  return out;
}
