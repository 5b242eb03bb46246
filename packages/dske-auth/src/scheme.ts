/**
 * The MAC schemes behind one interface, and the parts of an HTTP message each scheme tags.
 */

export type AuthSchemeName = "hmac-sha256" | "gf128";
export const AUTH_SCHEME_NAMES: readonly AuthSchemeName[] = ["hmac-sha256", "gf128"];
export const DEFAULT_AUTH_SCHEME: AuthSchemeName = "gf128";

export function isAuthSchemeName(s: unknown): s is AuthSchemeName {
  return s === "hmac-sha256" || s === "gf128";
}

/**
 * A message authentication scheme.
 *
 * - `keyLength`: bytes of the `key` argument of sign/verify.
 * - `allocationLength`: PSRD bytes allocated per message (the DSKE-Signature allocation).
 * - `blockKeyPrefix`: bytes each PSRD block reserves as its MAC key prefix.
 * - `tagLength`: bytes of a tag.
 */
export interface MacScheme {
  readonly name: AuthSchemeName;
  readonly tagLength: number;
  readonly keyLength: number;
  readonly allocationLength: number;
  readonly blockKeyPrefix: number;
  /** Tag the parts (the scheme defines how parts are combined). */
  sign(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array;
  /** Recompute and compare in constant time. */
  verify(key: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array): boolean;
}

/** The HTTP request as signed: all strings exactly as on the wire. */
export interface SignedRequest {
  /** Upper-case method. */
  method: string;
  /** The URL path as sent (percent-encoded form), without query. */
  path: string;
  /** The raw query string as sent, without the leading `?` ("" if none). */
  query: string;
  /** The raw body bytes (empty if none). */
  body: Uint8Array;
  /** The allocation string of the DSKE-Signature header. */
  allocation: string;
}

/** The HTTP response as signed. */
export interface SignedResponse {
  status: number;
  /** The tag of the request this answers (binds the response to its request under gf128). */
  requestTag: Uint8Array;
  body: Uint8Array;
  allocation: string;
}

/** Constant-time comparison of equal-length byte strings (false, early, if lengths differ: lengths are public). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
