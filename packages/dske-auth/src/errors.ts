/** Typed errors of @dske/auth. Every failure carries a stable machine-readable `code`. */

export type SignatureErrorCode =
  /** No DSKE-Signature header. */
  | "missing_signature"
  /** The header is not `<allocation>%<base64 tag>` (or `;`). */
  | "malformed_signature"
  /** The tag is not strict standard base64 with padding. */
  | "bad_base64"
  /** The decoded tag has the wrong length for the scheme. */
  | "bad_tag_length"
  /** The allocation string does not parse (or names the wrong number of bytes for the scheme). */
  | "bad_allocation"
  /** The allocation has more fragments than allowed. */
  | "too_many_fragments"
  /** The named PSRD bytes are not available (unknown block, consumed, reserved, key prefix): e.g. a replay. */
  | "psrd_unavailable"
  /** The tag does not verify. */
  | "bad_tag"
  /** No peer could be resolved for the message. */
  | "unknown_peer"
  /** The local pool could not provide signing material. */
  | "psrd_exhausted"
  /** The message body exceeds the configured limit. */
  | "body_too_large"
  /** The message could not be read or serialized. */
  | "bad_message";

export class SignatureError extends Error {
  readonly code: SignatureErrorCode;
  readonly details: readonly string[];
  constructor(code: SignatureErrorCode, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignatureError";
    this.code = code;
    this.details = details;
  }
}

/** A DSKE-Signature header value that does not parse. */
export class SignatureHeaderError extends SignatureError {
  constructor(code: SignatureErrorCode, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = "SignatureHeaderError";
  }
}
