/**
 * The reference implementation's key splitting, SLIP-39 style (written from the scheme text of
 * reference-shamir.json, not from our @dske/sss): over GF(2^8) mod 0x11B (gf256.ts), byte-wise;
 * share i has x = i (0-based, i < n); the secret is f(255); f(254) = digest ‖ random_part with
 * digest = HMAC-SHA256(key = random_part, msg = secret)[:4]; the first k − 2 shares are random and
 * the other n − k + 2 are the interpolation through those k points; a share is as long as the
 * secret (at least 4 bytes); k = 1 sends the secret itself as every share.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { interpolateAt } from "./gf256";

export const SECRET_X = 255;
export const DIGEST_X = 254;
export const DIGEST_LENGTH = 4;
/** x is a byte, and 254/255 are taken: at most 254 shares. */
export const MAX_SHARES = 254;

export interface ReferenceShare {
  /** The share index, 0..n−1 (the reference's `share_index`, and the x coordinate). */
  readonly x: number;
  readonly y: Uint8Array;
}

export class ShamirDigestError extends Error {
  override readonly name = "ShamirDigestError";
  constructor() {
    super("Invalid digest of the shared secret.");
  }
}

function digestOf(randomPart: Uint8Array, secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", randomPart).update(secret).digest().subarray(0, DIGEST_LENGTH));
}

function checkParameters(k: number, n: number, length: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || k > n || n > MAX_SHARES) {
    throw new RangeError(`need 1 <= k <= n <= ${MAX_SHARES}, got k = ${k}, n = ${n}`);
  }
  if (length < DIGEST_LENGTH) throw new RangeError(`the secret must be at least ${DIGEST_LENGTH} bytes`);
}

/** Split `secret` into n shares (x = 0..n−1), every k of which give it back. */
export function splitSecret(
  secret: Uint8Array,
  k: number,
  n: number,
  random: (size: number) => Uint8Array = randomBytes,
): ReferenceShare[] {
  checkParameters(k, n, secret.length);
  if (k === 1) return Array.from({ length: n }, (_, x) => ({ x, y: Uint8Array.from(secret) }));
  const randomPart = random(secret.length - DIGEST_LENGTH);
  const base: ReferenceShare[] = [];
  for (let x = 0; x < k - 2; x++) base.push({ x, y: random(secret.length) });
  const digestShare = new Uint8Array(secret.length);
  digestShare.set(digestOf(randomPart, secret), 0);
  digestShare.set(randomPart, DIGEST_LENGTH);
  const points = [...base, { x: DIGEST_X, y: digestShare }, { x: SECRET_X, y: secret }];
  const shares = [...base];
  for (let x = k - 2; x < n; x++) shares.push({ x, y: interpolateAt(x, points) });
  digestShare.fill(0);
  randomPart.fill(0);
  return shares;
}

/**
 * The secret from k shares (the first k of `shares` are used); throws ShamirDigestError when the
 * digest at x = 254 does not match (a wrong or tampered share).
 */
export function combineShares(shares: readonly ReferenceShare[], k: number): Uint8Array {
  if (shares.length < k) throw new RangeError(`need ${k} shares, got ${shares.length}`);
  const used = shares.slice(0, k);
  checkParameters(k, Math.max(k, ...used.map((s) => s.x + 1)), used[0].y.length);
  if (k === 1) return Uint8Array.from(used[0].y);
  const secret = interpolateAt(SECRET_X, used);
  const digestShare = interpolateAt(DIGEST_X, used);
  const expected = digestOf(digestShare.subarray(DIGEST_LENGTH), secret);
  const ok = timingSafeEqual(expected, digestShare.subarray(0, DIGEST_LENGTH));
  digestShare.fill(0);
  if (!ok) {
    secret.fill(0);
    throw new ShamirDigestError();
  }
  return secret;
}
