/**
 * Errors of the client domain. Every error that reaches an SAE is a `KmeError`: a `kind` naming
 * the domain condition, a message and ETSI-style `details` (objects of name/value pairs). How a
 * kind is answered over HTTP (the ETSI GS QKD 014 status) is decided in http/errors.ts.
 */

/** ETSI 014 `details` entries are objects of name/value pairs. */
export type KmeErrorDetail = Record<string, unknown>;

/**
 * - `invalid-request`: the request is malformed or its parameters are out of range.
 * - `unknown-key`: key IDs unknown, already delivered, or not returnable to this SAE (ETSI clause 5.4).
 * - `unauthorized`: the calling SAE is not identified, or may not use this KME or key.
 * - `not-found`: a named resource other than a key does not exist (e.g. a PSRD bundle file).
 * - `unavailable`: the KME cannot serve the request now (too few hubs, PSRD exhausted, storage).
 */
export type KmeErrorKind = "invalid-request" | "unknown-key" | "unauthorized" | "not-found" | "unavailable";

export class KmeError extends Error {
  override readonly name = "KmeError";
  constructor(
    readonly kind: KmeErrorKind,
    message: string,
    readonly details?: KmeErrorDetail[],
  ) {
    super(message);
  }
}

/** The request is malformed or its parameters are invalid. */
export function badRequest(message: string, details?: KmeErrorDetail[]): KmeError {
  return new KmeError("invalid-request", message, details);
}

/** The calling SAE is not identified or not allowed. */
export function unauthorized(message: string, details?: KmeErrorDetail[]): KmeError {
  return new KmeError("unauthorized", message, details);
}

/** The KME cannot serve this now (not enough hubs, PSRD exhausted, ...). */
export function unavailable(message: string, details?: KmeErrorDetail[]): KmeError {
  return new KmeError("unavailable", message, details);
}

/** The ETSI message for unknown / already delivered / not-returnable key IDs (clause 5.4). */
export const KEYS_NOT_FOUND_MESSAGE = "one or more keys specified are not found on KME";

/** Key IDs not found (ETSI clause 5.4); `details` names them. */
export function keysNotFound(details: KmeErrorDetail[]): KmeError {
  return new KmeError("unknown-key", KEYS_NOT_FOUND_MESSAGE, details);
}

/** One key ID not found, with an optional reason. */
export function keyNotFound(keyId: string, why?: string): KmeError {
  return keysNotFound([{ key_ID: keyId, ...(why ? { reason: why } : {}) }]);
}
