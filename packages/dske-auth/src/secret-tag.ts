/**
 * The draft's secret (key-validation) tag (draft-mwag-dske Appendix A; dske-crypto.md §2(b)):
 * the secret is the word sequence (c, d, e, y_1..y_m) and
 *   σ = h(c, d, e, y_1..y_m) = d + c·e + Σ_{i=1..m} c^(i+1)·y_i,
 * with d chosen so that σ = 0. A receiver accepts a reconstructed secret iff σ = 0.
 */
import { GF128_BYTES } from "./gf128";
import { polyHash } from "./polyhash";
import { constantTimeEqual } from "./scheme";

function words(e: Uint8Array, y: readonly Uint8Array[]): Uint8Array[] {
  return [e, ...y];
}

/** d = c·e + Σ c^(i+1)·y_i, the d word that makes σ = 0. */
export function secretTagD(c: Uint8Array, e: Uint8Array, y: readonly Uint8Array[]): Uint8Array {
  return polyHash(c, new Uint8Array(GF128_BYTES), words(e, y));
}

/** Alias of secretTagD: "make" the tag by choosing d. */
export const makeSecretTag = secretTagD;

/** σ = d + c·e + Σ c^(i+1)·y_i. */
export function secretTagSigma(c: Uint8Array, d: Uint8Array, e: Uint8Array, y: readonly Uint8Array[]): Uint8Array {
  return polyHash(c, d, words(e, y));
}

/** True iff σ = 0 (constant-time comparison). */
export function checkSecretTag(c: Uint8Array, d: Uint8Array, e: Uint8Array, y: readonly Uint8Array[]): boolean {
  return constantTimeEqual(secretTagSigma(c, d, e, y), new Uint8Array(GF128_BYTES));
}
