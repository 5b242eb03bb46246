import { SssInconsistentSharesError } from "./errors.js";
import { evaluateAt, packShares } from "./interpolate.js";
import { lagrangeCoefficients } from "./lagrange.js";
import { linearCombineXor, wordsEqual } from "./linear.js";
import { assertEnoughShares, assertThreshold, validateShares, type Share } from "./share.js";

export interface RobustResult {
  /** The secret f(0). */
  secret: Uint8Array;
  /** x's of the shares found inconsistent and dropped, ascending (empty when all agree). */
  dropped: number[];
}

/** Words checked first for every candidate; only candidates passing this prefix get the full check. */
const PREFIX_WORDS = 16;

/**
 * True when every vector in `good` (indices into vectors) lies on the degree-(k-1) polynomial
 * through the first k of them, over words [start, end). Comparisons accumulate XOR differences
 * over the whole range (no early exit inside a share); it stops at the first inconsistent share.
 */
function consistentOn(
  vectors: readonly Uint32Array[],
  xs: readonly number[],
  good: readonly number[],
  k: number,
  scratch: Uint32Array,
  start: number,
  end: number,
): boolean {
  const basis = good.slice(0, k);
  const basisVectors = basis.map((i) => vectors[i]);
  const basisXs = basis.map((i) => xs[i]);
  for (let t = k; t < good.length; t++) {
    const target = good[t];
    scratch.fill(0, start, end);
    linearCombineXor(scratch, basisVectors, lagrangeCoefficients(basisXs, xs[target]), start, end);
    const ok = wordsEqual(scratch, vectors[target], start, end);
    if (!ok) return false;
  }
  return true;
}

function consistent(
  vectors: readonly Uint32Array[],
  xs: readonly number[],
  good: readonly number[],
  k: number,
  scratch: Uint32Array,
): boolean {
  const words = scratch.length;
  const prefix = Math.min(words, PREFIX_WORDS);
  if (!consistentOn(vectors, xs, good, k, scratch, 0, prefix)) return false;
  return prefix === words || consistentOn(vectors, xs, good, k, scratch, prefix, words);
}

/** Calls visit(B) for every e-subset B of 0..m-1 in lexicographic order until visit returns true. */
function someSubset(m: number, e: number, visit: (subset: number[]) => boolean): boolean {
  const idx = Array.from({ length: e }, (_, i) => i);
  for (;;) {
    if (visit(idx)) return true;
    let i = e - 1;
    while (i >= 0 && idx[i] === m - e + i) i--;
    if (i < 0) return false;
    idx[i]++;
    for (let j = i + 1; j < e; j++) idx[j] = idx[j - 1] + 1;
  }
}

/**
 * Robust reconstruction from m ≥ k shares of a (k, n) sharing, some of which may be wrong.
 *
 * Finds the smallest set B of shares, |B| = e ≤ ⌊(m-k)/2⌋, such that all other shares lie on one
 * polynomial of degree k-1 (checked over ALL byte positions: a bad share is bad as a whole),
 * and returns that polynomial's f(0) and the x's of B.
 *
 * Guarantees (for any corruption, even adversarial):
 * - at most ⌊(m-k)/2⌋ shares wrong: returns the right secret and exactly the wrong shares' x's;
 * - at most ⌈(m-k)/2⌉ shares wrong: never a wrong secret (right secret, or the error);
 * - more wrong shares than that: a wrong secret is possible if the wrong shares are chosen to
 *   lie on another polynomial (random corruption of L bytes does so with probability ~2^(-8L)).
 * Throws SssInconsistentSharesError when no such B exists. Cost: Σ_{e≤⌊(m-k)/2⌋} C(m,e)
 * candidate checks in the worst case; rejected candidates usually fail on the first 64 bytes.
 */
export function combineRobust(shares: Share[], k: number): RobustResult {
  const L = validateShares(shares);
  assertThreshold(k);
  const m = shares.length;
  assertEnoughShares(m, k);
  const xs = shares.map((s) => s.x);
  const maxBad = Math.floor((m - k) / 2);
  const batch = packShares(shares, L);
  const scratch = new Uint32Array(batch.words);
  try {
    const all = Array.from({ length: m }, (_, i) => i);
    let good: number[] | undefined;
    let bad: number[] = [];
    for (let e = 0; e <= maxBad && good === undefined; e++) {
      someSubset(m, e, (subset) => {
        const drop = new Set(subset);
        const rest = all.filter((i) => !drop.has(i));
        if (!consistent(batch.vectors, xs, rest, k, scratch)) return false;
        good = rest;
        bad = subset.slice();
        return true;
      });
    }
    if (good === undefined) throw new SssInconsistentSharesError(m, k, maxBad);
    const basis = good.slice(0, k);
    const secret = evaluateAt(
      basis.map((i) => batch.vectors[i]),
      basis.map((i) => xs[i]),
      0,
      L,
      scratch,
    );
    return { secret, dropped: bad.map((i) => xs[i]).sort((a, b) => a - b) };
  } finally {
    batch.wipe();
    scratch.fill(0);
  }
}

/**
 * True when all given shares (m ≥ k) lie on one polynomial of degree k-1, i.e. no share is
 * detectably wrong. Any 1..m-k wrong shares are always detected (false).
 */
export function verifyConsistent(shares: Share[], k: number): boolean {
  const L = validateShares(shares);
  assertThreshold(k);
  assertEnoughShares(shares.length, k);
  const batch = packShares(shares, L);
  const scratch = new Uint32Array(batch.words);
  try {
    return consistent(
      batch.vectors,
      shares.map((s) => s.x),
      Array.from({ length: shares.length }, (_, i) => i),
      k,
      scratch,
    );
  } finally {
    batch.wipe();
    scratch.fill(0);
  }
}
