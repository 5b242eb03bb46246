/**
 * `hmac-sha256`: wire-compatible with the reference implementation (dske-python): a 32-byte key
 * allocated from PSRD; the tag is HMAC-SHA256 over the concatenation of the parts. The reference
 * tags a request over raw query string bytes followed by raw body bytes, a response over the raw
 * body bytes (see requestParts/responseParts in message.ts). Computationally secure only.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { MacScheme } from "./scheme";

export const HMAC_SHA256_KEY_LENGTH = 32;
export const HMAC_SHA256_TAG_LENGTH = 32;

function hmac(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  if (key.length !== HMAC_SHA256_KEY_LENGTH) throw new RangeError(`hmac-sha256 key must be ${HMAC_SHA256_KEY_LENGTH} bytes`);
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export const hmacSha256Scheme: MacScheme = {
  name: "hmac-sha256",
  tagLength: HMAC_SHA256_TAG_LENGTH,
  keyLength: HMAC_SHA256_KEY_LENGTH,
  allocationLength: HMAC_SHA256_KEY_LENGTH,
  blockKeyPrefix: 0,
  sign: hmac,
  verify(key, parts, tag) {
    const expected = hmac(key, parts);
    return tag.length === expected.length && timingSafeEqual(expected, tag);
  },
};
