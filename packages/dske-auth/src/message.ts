/**
 * Which bytes each scheme tags for an HTTP request and response.
 *
 * - hmac-sha256 (reference layout): request = raw query ‖ raw body; response = raw body.
 * - gf128: request = ("Q", METHOD, path, raw query, body, allocation string);
 *          response = ("R", status, request tag, body, allocation string);
 *   each part length-bound by encoding.ts. The one-letter first part separates the two kinds.
 */
import { decimalBytes, utf8Bytes } from "./encoding";
import { gf128Scheme } from "./gf128-scheme";
import { hmacSha256Scheme } from "./hmac-sha256";
import type { AuthSchemeName, MacScheme, SignedRequest, SignedResponse } from "./scheme";

const SCHEMES: Record<AuthSchemeName, MacScheme> = {
  "hmac-sha256": hmacSha256Scheme,
  gf128: gf128Scheme,
};

/** The scheme implementation for a name. */
export function getScheme(name: AuthSchemeName): MacScheme {
  // `name` may come from unchecked configuration: the lookup can miss at run time.
  const s = (SCHEMES as Partial<Record<string, MacScheme>>)[name];
  if (!s) throw new RangeError(`unknown auth scheme ${name}`);
  return s;
}

/** Bytes each new PSRD block must reserve as its MAC key prefix under this scheme (gf128: 16, hmac-sha256: 0). */
export function blockKeyPrefix(scheme: AuthSchemeName): number {
  return getScheme(scheme).blockKeyPrefix;
}

const Q = utf8Bytes("Q");
const R = utf8Bytes("R");

export function requestParts(scheme: AuthSchemeName, m: SignedRequest): Uint8Array[] {
  if (scheme === "hmac-sha256") return [utf8Bytes(m.query), m.body];
  return [Q, utf8Bytes(m.method), utf8Bytes(m.path), utf8Bytes(m.query), m.body, utf8Bytes(m.allocation)];
}

export function responseParts(scheme: AuthSchemeName, m: SignedResponse): Uint8Array[] {
  if (scheme === "hmac-sha256") return [m.body];
  return [R, decimalBytes(m.status), m.requestTag, m.body, utf8Bytes(m.allocation)];
}
