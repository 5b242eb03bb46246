import { SssError } from "./errors.js";

/** One Shamir share: the polynomial evaluated at x (1..255), byte-wise over GF(2^8). */
export interface Share {
  x: number;
  y: Uint8Array;
}

/** Throws INVALID_X unless x is an integer in min..255. */
export function assertX(x: unknown, what: string, min = 1): asserts x is number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > 255) {
    const why = x === 0 && min === 1 ? " (x = 0 is the secret itself)" : "";
    throw new SssError("INVALID_X", `${what} must be an integer in ${min}..255, got ${String(x)}${why}`);
  }
}

/**
 * Validates a share list: a non-empty array of { x: minX..255 distinct, y: non-empty Uint8Array },
 * all y of equal length. Returns the common length L. `minX` is 1 (x = 0 is the secret) except
 * for the reference implementation's shares (reference.ts), which start at x = 0.
 */
export function validateShares(shares: unknown, minX = 1): number {
  if (!Array.isArray(shares)) {
    throw new SssError("INVALID_TYPE", "shares must be an array of { x: number, y: Uint8Array }");
  }
  if (shares.length === 0) throw new SssError("NOT_ENOUGH_SHARES", "no shares given");
  if (shares.length > 255) {
    throw new SssError("INVALID_SHARE_COUNT", `at most 255 shares exist in GF(2^8), got ${shares.length}`);
  }
  const seen = new Set<number>();
  let length = -1;
  shares.forEach((share: unknown, i: number) => {
    if (typeof share !== "object" || share === null) {
      throw new SssError("INVALID_TYPE", `shares[${i}] must be an object { x: number, y: Uint8Array }`);
    }
    const { x, y } = share as { x?: unknown; y?: unknown };
    assertX(x, `shares[${i}].x`, minX);
    if (!(y instanceof Uint8Array)) {
      throw new SssError("INVALID_TYPE", `shares[${i}].y must be a Uint8Array`);
    }
    if (y.length === 0) throw new SssError("EMPTY_SECRET", `shares[${i}].y is empty`);
    if (length === -1) length = y.length;
    else if (y.length !== length) {
      throw new SssError(
        "LENGTH_MISMATCH",
        `shares have different lengths: shares[0].y has ${length} bytes, shares[${i}].y has ${y.length}`,
      );
    }
    if (seen.has(x)) throw new SssError("DUPLICATE_X", `duplicate share x = ${x} (shares[${i}])`);
    seen.add(x);
  });
  return length;
}

/** Throws INVALID_THRESHOLD unless k is an integer in 1..255. */
export function assertThreshold(k: unknown): asserts k is number {
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > 255) {
    throw new SssError("INVALID_THRESHOLD", `threshold k must be an integer in 1..255, got ${String(k)}`);
  }
}

/** Throws NOT_ENOUGH_SHARES when fewer than k shares are given. */
export function assertEnoughShares(m: number, k: number): void {
  if (m < k) {
    throw new SssError("NOT_ENOUGH_SHARES", `need at least k = ${k} shares, got ${m}`);
  }
}
