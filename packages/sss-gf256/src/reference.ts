import { createHmac, timingSafeEqual } from "node:crypto";
import { SssError } from "./errors.js";
import { evaluateAt, packShares } from "./interpolate.js";
import { defaultRandom, type RandomSource } from "./random.js";
import { assertThreshold, validateShares, type Share } from "./share.js";
import { packVectors } from "./words.js";

/**
 * The reference implementation's Shamir shares (its `common/shamir.py`, SLIP-39 style), for
 * exchanging keys with reference clients. Same field as the rest of this package (GF(2^8),
 * 0x11B), other layout:
 *
 * - share i has x = i (0-based, i < n); the secret is f(255);
 * - f(254) = digest || random_part, digest = HMAC-SHA256(key = random_part, msg = secret)[:4],
 *   |random_part| = L − 4, so shares are as long as the secret (L ≥ 4);
 * - the shares x = 0..k−3 are random, the rest are interpolated through those, f(254) and f(255);
 * - k = 1: every share is the secret itself (there is no digest).
 *
 * What the digest gives: 32 bits, checked with a computational primitive (HMAC-SHA256). Wrong
 * shares from fewer than k hubs pass it with probability about 2^-32 per attempt. Our own format
 * (a 128-bit check word, @dske/client key-check.ts) is information-theoretic and 2^96 times
 * tighter; use this one only with reference peers.
 *
 * Constant time as far as split.ts/combine.ts are (the same kernel, public x's only); the digest
 * is compared with timingSafeEqual. HMAC is node:crypto's, like the default random source.
 */

/** x of the secret. */
export const REFERENCE_SECRET_X = 255;
/** x of the digest share. */
export const REFERENCE_DIGEST_X = 254;
/** Bytes of the digest (and least secret length). */
export const REFERENCE_DIGEST_LENGTH = 4;
/** Largest share x (254 and 255 are the digest and the secret). */
export const REFERENCE_MAX_X = 253;

function digestOf(randomPart: Uint8Array, secret: Uint8Array): Uint8Array {
  const mac = createHmac("sha256", randomPart).update(secret).digest();
  const out = new Uint8Array(mac.subarray(0, REFERENCE_DIGEST_LENGTH));
  mac.fill(0);
  return out;
}

/**
 * Splits `secret` (≥ 4 bytes) into n reference shares (x = 0..n−1), any k of which recover it.
 * `random` is called ONCE with (k−2)·L + (L−4) bytes (not at all when that is 0, nor for k = 1):
 * the first (k−2)·L bytes are the shares x = 0..k−3 (L each), the rest is random_part — the
 * reference's draws, in its order. The buffer is consumed (zeroed), as are all internal copies.
 * n ≤ 254 here; the reference itself makes at most 16 shares.
 */
export function splitReference(secret: Uint8Array, n: number, k: number, random: RandomSource = defaultRandom): Share[] {
  if (!(secret instanceof Uint8Array)) throw new SssError("INVALID_TYPE", "secret must be a Uint8Array");
  if (secret.length === 0) throw new SssError("EMPTY_SECRET", "secret must not be empty");
  if (secret.length < REFERENCE_DIGEST_LENGTH) {
    throw new SssError(
      "SECRET_TOO_SHORT",
      `reference shares need a secret of at least ${REFERENCE_DIGEST_LENGTH} bytes, got ${secret.length}`,
    );
  }
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > REFERENCE_MAX_X + 1) {
    throw new SssError("INVALID_SHARE_COUNT", `share count n must be an integer in 1..${REFERENCE_MAX_X + 1}, got ${String(n)}`);
  }
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > n) {
    throw new SssError("INVALID_THRESHOLD", `threshold k must be an integer in 1..n (n = ${n}), got ${String(k)}`);
  }
  if (typeof random !== "function") throw new SssError("INVALID_TYPE", "random must be a function (length) => Uint8Array");

  const L = secret.length;
  if (k === 1) return Array.from({ length: n }, (_, x) => ({ x, y: secret.slice() }));

  const randomShares = k - 2;
  const randomLength = randomShares * L + (L - REFERENCE_DIGEST_LENGTH);
  let drawn: Uint8Array = new Uint8Array(0);
  if (randomLength > 0) {
    const r: unknown = random(randomLength);
    if (!(r instanceof Uint8Array) || r.length !== randomLength) {
      if (r instanceof Uint8Array) r.fill(0);
      throw new SssError(
        "INVALID_RANDOM",
        `random(${randomLength}) must return a Uint8Array of ${randomLength} bytes, got ` +
          (r instanceof Uint8Array ? `${r.length} bytes` : typeof r),
      );
    }
    drawn = r;
  }
  const randomPart = drawn.subarray(randomShares * L);
  const digestShare = new Uint8Array(L);
  const digest = digestOf(randomPart, secret);
  digestShare.set(digest);
  digestShare.set(randomPart, REFERENCE_DIGEST_LENGTH);
  digest.fill(0);

  // The polynomial through x = 0..k−3 (random), 254 (digest share) and 255 (secret): degree k−1.
  const baseXs = [...Array.from({ length: randomShares }, (_, x) => x), REFERENCE_DIGEST_X, REFERENCE_SECRET_X];
  const base = (i: number) => (i < randomShares ? drawn.subarray(i * L, (i + 1) * L) : i === randomShares ? digestShare : secret);
  const batch = packVectors(k, L, base);
  const scratch = new Uint32Array(batch.words);
  try {
    const shares: Share[] = [];
    for (let x = 0; x < n; x++) {
      shares.push({ x, y: x < randomShares ? base(x).slice() : evaluateAt(batch.vectors, baseXs, x, L, scratch) });
    }
    return shares;
  } finally {
    batch.wipe();
    scratch.fill(0);
    drawn.fill(0);
    digestShare.fill(0);
  }
}

/** Throws INVALID_X unless every share x is a reference share index (0..253); returns L. */
function validateReferenceShares(shares: unknown): number {
  const L = validateShares(shares, 0);
  (shares as Share[]).forEach((s, i) => {
    if (s.x > REFERENCE_MAX_X) {
      throw new SssError(
        "INVALID_X",
        `shares[${i}].x must be an integer in 0..${REFERENCE_MAX_X} (254 and 255 hold the digest and the secret), got ${s.x}`,
      );
    }
  });
  return L;
}

/**
 * Recovers the secret from reference shares and verifies its digest; never returns a secret
 * whose digest does not verify (SssError DIGEST_MISMATCH instead).
 *
 * Interpolates ALL given shares at 255 and 254, as the reference does: right whenever at least k
 * honest shares are given; one wrong share makes the digest fail (except with probability about
 * 2^-32). It does not search subsets: callers that have more than k shares and want to skip a bad
 * one use referenceToStandard + combineRobust, or try subsets, each verified here.
 *
 * `threshold` (k, optional): at least max(k, 2) shares are needed. k = 1 is the reference's
 * "every share is the secret", which has no digest: the common value is returned only when all
 * given shares are equal (INCONSISTENT_SHARES otherwise), and nothing else can be checked.
 */
export function combineReference(shares: Share[], threshold?: number): Uint8Array {
  if (threshold !== undefined) assertThreshold(threshold);
  const L = validateReferenceShares(shares);
  const m = shares.length;
  if (threshold === 1) {
    const first = shares[0].y;
    let same = true;
    for (const s of shares) same = timingSafeEqual(s.y, first) && same;
    if (!same) throw new SssError("INCONSISTENT_SHARES", "threshold 1: every reference share is the secret itself, but the shares differ");
    return first.slice();
  }
  const need = Math.max(2, threshold ?? 2);
  if (m < need) throw new SssError("NOT_ENOUGH_SHARES", `need at least ${need} reference shares, got ${m}`);
  if (L < REFERENCE_DIGEST_LENGTH) {
    throw new SssError("SECRET_TOO_SHORT", `reference shares are at least ${REFERENCE_DIGEST_LENGTH} bytes long, got ${L}`);
  }
  const xs = shares.map((s) => s.x);
  const batch = packShares(shares, L);
  const scratch = new Uint32Array(batch.words);
  let secret: Uint8Array;
  let digestShare: Uint8Array;
  try {
    secret = evaluateAt(batch.vectors, xs, REFERENCE_SECRET_X, L, scratch);
    digestShare = evaluateAt(batch.vectors, xs, REFERENCE_DIGEST_X, L, scratch);
  } finally {
    batch.wipe();
  }
  const expected = digestOf(digestShare.subarray(REFERENCE_DIGEST_LENGTH), secret);
  const ok = timingSafeEqual(expected, digestShare.subarray(0, REFERENCE_DIGEST_LENGTH));
  expected.fill(0);
  digestShare.fill(0);
  if (!ok) {
    secret.fill(0);
    throw new SssError(
      "DIGEST_MISMATCH",
      `the digest of the reference secret (HMAC-SHA256 at x = ${REFERENCE_DIGEST_X}) does not verify over the ${m} shares given: ` +
        "a wrong share, or fewer shares than the threshold",
    );
  }
  return secret;
}

/**
 * The same shares with x ↦ x XOR 255 (= x + 255 in GF(2^8)): the polynomial g(x) = f(x + 255) has
 * the same degree, so the rest of this package applies to reference shares unchanged, with the
 * reference secret f(255) at g(0) and the digest share f(254) at g(1). E.g.
 * `combineRobust(referenceToStandard(shares), k)` drops up to ⌊(m−k)/2⌋ bad shares (its
 * `dropped` x's are in the shifted frame: XOR 255 again). The y's are shared, not copied.
 */
export function referenceToStandard(shares: Share[]): Share[] {
  validateReferenceShares(shares);
  return shares.map((s) => ({ x: s.x ^ REFERENCE_SECRET_X, y: s.y }));
}
