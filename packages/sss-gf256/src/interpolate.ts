import { SssError } from "./errors.js";
import { lagrangeCoefficients } from "./lagrange.js";
import { linearCombine } from "./linear.js";
import { assertX, validateShares, type Share } from "./share.js";
import { packVectors, toBytes, type WordBatch } from "./words.js";

/** Packs validated shares into one word batch (caller wipes). */
export function packShares(shares: readonly Share[], byteLength: number): WordBatch {
  return packVectors(shares.length, byteLength, (i) => shares[i].y);
}

/** Evaluates the interpolating polynomial of `vectors` (at public `xs`) at `at`; L bytes out. */
export function evaluateAt(
  vectors: readonly Uint32Array[],
  xs: readonly number[],
  at: number,
  byteLength: number,
  scratch: Uint32Array,
): Uint8Array {
  linearCombine(scratch, vectors, lagrangeCoefficients(xs, at));
  const out = toBytes(scratch, byteLength);
  scratch.fill(0);
  return out;
}

/**
 * Lagrange interpolation of ALL given shares (degree m-1), evaluated at x (0..255), byte-wise.
 * interpolateAt(shares, 0) is the secret when the shares come from a polynomial of degree < m.
 */
export function interpolateAt(shares: Share[], x: number): Uint8Array {
  const L = validateShares(shares);
  assertX(x, "x", 0);
  const batch = packShares(shares, L);
  const scratch = new Uint32Array(batch.words);
  try {
    return evaluateAt(
      batch.vectors,
      shares.map((s) => s.x),
      x,
      L,
      scratch,
    );
  } finally {
    batch.wipe();
  }
}

/**
 * Derives the shares at `xs` (1..255, distinct) of the polynomial through the given shares
 * (degree m-1). With k shares of a (k, n) sharing this yields the other shares; with k PSRD
 * strings taken as shares at x = 1..k it yields the secret (x = 0, via interpolateAt) and the
 * shares for x = k+1..n.
 */
export function extendShares(shares: Share[], xs: number[]): Share[] {
  const L = validateShares(shares);
  if (!Array.isArray(xs)) throw new SssError("INVALID_TYPE", "xs must be an array of numbers");
  const seen = new Set<number>();
  xs.forEach((x, i) => {
    assertX(x, `xs[${i}]`);
    if (seen.has(x)) throw new SssError("DUPLICATE_X", `duplicate x = ${x} in xs`);
    seen.add(x);
  });
  const batch = packShares(shares, L);
  const scratch = new Uint32Array(batch.words);
  const known = shares.map((s) => s.x);
  try {
    return xs.map((x) => ({ x, y: evaluateAt(batch.vectors, known, x, L, scratch) }));
  } finally {
    batch.wipe();
  }
}

/** Alias of extendShares. */
export const deriveShares = extendShares;
