import { interpolateAt } from "./interpolate.js";
import { combineRobust } from "./robust.js";
import type { Share } from "./share.js";
import { assertThreshold } from "./share.js";

/**
 * Recovers the secret f(0).
 * - combine(shares): interpolates ALL given shares (degree m-1). Correct whenever the shares
 *   are honest and at least k of them are given; it cannot detect a wrong share.
 * - combine(shares, k): robust — checks that the shares lie on one polynomial of degree k-1,
 *   finds and drops up to ⌊(m-k)/2⌋ bad shares, and throws SssInconsistentSharesError when it
 *   cannot decide (see combineRobust for the exact guarantee).
 */
export function combine(shares: Share[], k?: number): Uint8Array {
  if (k === undefined) return interpolateAt(shares, 0);
  assertThreshold(k);
  return combineRobust(shares, k).secret;
}
