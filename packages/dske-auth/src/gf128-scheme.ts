/**
 * `gf128`: the draft's ITS polynomial MAC (draft-mwag-dske Appendix A), Wegman–Carter variant.
 *
 * key = c ‖ d (32 bytes): c is the hash key, the 16-byte key prefix of the PSRD block holding the
 * first byte of the message's pad (`pool.blockKey(uuid)`), d a fresh 16-byte one-time pad
 * allocated from PSRD for this message. The parts are encoded unambiguously (encoding.ts) into
 * words y_1..y_m and tag = d + Σ c^i·y_i.
 *
 * Forgery bound (shared/notes/dske-crypto.md §2(a)): the encoded hash family is ε-almost-XOR-
 * universal with ε = m/2^128 (m words, length bound in the last word); with a fresh uniform pad
 * per message the tags reveal nothing about c, so each forgery attempt succeeds with probability
 * ≤ (m + 1)/2^128 and v attempts against one block key with ≤ v·(m + 1)/2^128.
 */
import { GF128_BYTES, fromLimbs, prepare } from "./gf128";
import { encodeParts } from "./encoding";
import { hornerWords } from "./polyhash";
import { constantTimeEqual, type MacScheme } from "./scheme";

export const GF128_KEY_LENGTH = 32;
export const GF128_TAG_LENGTH = 16;
export const GF128_PAD_LENGTH = 16;
export const GF128_BLOCK_KEY_PREFIX = 16;

function tag(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  if (key.length !== GF128_KEY_LENGTH) throw new RangeError(`gf128 key must be ${GF128_KEY_LENGTH} bytes (c ‖ d)`);
  const words = encodeParts(parts);
  const k = prepare(key, 0);
  const s = new Int32Array(4);
  hornerWords(s, k, words, 0, words.length / GF128_BYTES);
  const out = fromLimbs(s);
  for (let i = 0; i < GF128_BYTES; i++) out[i] ^= key[GF128_BYTES + i];
  k.fill(0);
  s.fill(0);
  return out;
}

export const gf128Scheme: MacScheme = {
  name: "gf128",
  tagLength: GF128_TAG_LENGTH,
  keyLength: GF128_KEY_LENGTH,
  allocationLength: GF128_PAD_LENGTH,
  blockKeyPrefix: GF128_BLOCK_KEY_PREFIX,
  sign: tag,
  verify(key, parts, t) {
    const expected = tag(key, parts);
    return constantTimeEqual(expected, t);
  },
};
