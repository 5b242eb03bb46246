/**
 * Errors of the client domain. Every error that reaches an SAE is an `EtsiError`: an ETSI GS QKD
 * 014 status (400, 401, 503) plus the standard error body `{message, details?}`.
 */

/** ETSI 014 `details` entries are objects of name/value pairs. */
export type EtsiErrorDetail = Record<string, unknown>;

export type EtsiStatusCode = 400 | 401 | 403 | 404 | 503;

export class EtsiError extends Error {
  override readonly name = "EtsiError";
  constructor(
    readonly status: EtsiStatusCode,
    message: string,
    readonly details?: EtsiErrorDetail[],
  ) {
    super(message);
  }

  /** The ETSI 014 error body. */
  toBody(): { message: string; details?: EtsiErrorDetail[] } {
    return this.details && this.details.length > 0
      ? { message: this.message, details: this.details }
      : { message: this.message };
  }
}

/** 400: bad request format / invalid parameters. */
export function badRequest(message: string, details?: EtsiErrorDetail[]): EtsiError {
  return new EtsiError(400, message, details);
}

/** 401: the calling SAE is not identified or not allowed. */
export function unauthorized(message: string, details?: EtsiErrorDetail[]): EtsiError {
  return new EtsiError(401, message, details);
}

/** 503: server side failure (not enough hubs, PSRD exhausted, ...). */
export function unavailable(message: string, details?: EtsiErrorDetail[]): EtsiError {
  return new EtsiError(503, message, details);
}

/** The ETSI message for unknown / already delivered / not-returnable key IDs (clause 5.4). */
export const KEYS_NOT_FOUND_MESSAGE = "one or more keys specified are not found on KME";
