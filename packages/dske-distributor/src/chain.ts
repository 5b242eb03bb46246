/**
 * The chain of bundles between one hub and one client, and the key that links them.
 *
 * Every bundle carries, at the end of its payload, a fresh random 32-byte *next chain key*. The
 * next bundle of the same (hub, client) pair is tagged with it: its tag is the draft's
 * polynomial hash h(c, d, y_1..y_m) = d + Σ c^i·y_i over GF(2^128) (draft-mwag-dske Appendix A,
 * `polyHash` of @dske/auth) with c = chainKey[0..16) and d = chainKey[16..32), over the
 * injective encoding `encodeParts([header bytes, payload])`.
 *
 * Why this needs no computational assumption:
 * - (c, d) is uniform and used for exactly one message (one bundle), like a one-time pad. Seeing
 *   (y, t) leaves c uniform (d = t − Σ c^i·y_i is determined by c), so a substituted (y', t')
 *   with y' ≠ y is accepted only if c is a root of the non-zero polynomial
 *   Σ c^i·(y_i − y'_i) − (t − t') of degree ≤ L (L = words of the longer encoding): at most
 *   L of the 2^128 values of c. Forgery probability ≤ L / 2^128, whatever the attacker computes.
 * - The chain key of bundle n+1 travels inside bundle n, so it is as secret as the PSRD in that
 *   bundle: both rely on the physical protection of the medium, which the draft's local
 *   distributor assumes anyway (an attacker who reads the medium has the PSRD itself).
 * - The first bundle (seq 1) has no predecessor: it is trusted physically, like the draft's
 *   initial keys (§11.1). Its tag is 16 zero bytes; a receiver accepts seq 1 only when it has no
 *   chain with that hub.
 * - Used once, then destroyed: the receiver replaces its stored chain key by the bundle's next
 *   chain key atomically with the install, and zeroes the old one; the issuer must never tag two
 *   different bundles with one chain key (two tags under one key reveal c). A re-issue of the
 *   same seq must therefore be the very same bytes.
 */

/** Length of a chain key: c (16 bytes) then d (16 bytes). */
export const CHAIN_KEY_BYTES = 32;

/** Length of a bundle tag: one GF(2^128) element. */
export const TAG_BYTES = 16;

/**
 * A fresh chain key from a source of uniform random bytes (e.g. node:crypto `randomBytes`, the
 * same source the hub draws PSRD from). The result is the caller's to zero after use.
 */
export function newChainKey(randomBytes: (n: number) => Uint8Array): Uint8Array {
  const raw = randomBytes(CHAIN_KEY_BYTES);
  if (!(raw instanceof Uint8Array) || raw.length !== CHAIN_KEY_BYTES) {
    throw new RangeError(`randomBytes(${CHAIN_KEY_BYTES}) must return ${CHAIN_KEY_BYTES} bytes`);
  }
  // A private copy, so that the caller's buffer (e.g. a pooled Buffer) can be reused or zeroed.
  const key = new Uint8Array(CHAIN_KEY_BYTES);
  key.set(raw);
  raw.fill(0);
  return key;
}

/** True if `key` is a chain key: a Uint8Array of CHAIN_KEY_BYTES bytes. */
export function isChainKey(key: unknown): key is Uint8Array {
  return key instanceof Uint8Array && key.length === CHAIN_KEY_BYTES;
}
