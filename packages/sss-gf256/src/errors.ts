/** Every failure of this package is an `SssError`; `code` says which kind. */
export type SssErrorCode =
  | "INVALID_TYPE" // an argument has the wrong type (e.g. secret is not a Uint8Array)
  | "INVALID_THRESHOLD" // k < 1, k > n, or k not an integer
  | "INVALID_SHARE_COUNT" // n < 1, n > 255, or n not an integer
  | "EMPTY_SECRET" // secret or share value of length 0
  | "INVALID_X" // x not an integer in 1..255 (or, for interpolateAt, 0..255)
  | "DUPLICATE_X" // two shares with the same x
  | "LENGTH_MISMATCH" // shares of different lengths
  | "NOT_ENOUGH_SHARES" // fewer shares than the threshold k (or none at all)
  | "INVALID_RANDOM" // the random source returned something other than the requested bytes
  | "DIVISION_BY_ZERO" // gf256.div / gf256.inv with a zero divisor
  | "INCONSISTENT_SHARES" // shares do not lie on one polynomial of degree k-1 and cannot be corrected
  | "SECRET_TOO_SHORT" // reference shares (reference.ts): secret or share value shorter than the 4-byte digest
  | "DIGEST_MISMATCH"; // reference shares (reference.ts): the HMAC digest at x = 254 does not verify

export class SssError extends Error {
  readonly code: SssErrorCode;

  constructor(code: SssErrorCode, message: string) {
    super(message);
    this.name = "SssError";
    this.code = code;
  }
}

/**
 * Robust reconstruction could not decide: the shares are inconsistent and no polynomial of
 * degree k-1 agrees with at least m - ⌊(m-k)/2⌋ of them (more shares are wrong than can be
 * corrected).
 */
export class SssInconsistentSharesError extends SssError {
  /** Number of shares given (m). */
  readonly shareCount: number;
  /** Threshold k. */
  readonly threshold: number;
  /** Largest number of bad shares that could have been corrected: ⌊(m-k)/2⌋. */
  readonly correctable: number;

  constructor(shareCount: number, threshold: number, correctable: number) {
    super(
      "INCONSISTENT_SHARES",
      `shares are inconsistent: no polynomial of degree ${threshold - 1} agrees with at least ` +
        `${shareCount - correctable} of the ${shareCount} shares ` +
        `(at most ${correctable} bad share(s) can be corrected with m=${shareCount}, k=${threshold})`,
    );
    this.name = "SssInconsistentSharesError";
    this.shareCount = shareCount;
    this.threshold = threshold;
    this.correctable = correctable;
  }
}
