/**
 * A test-side encoder/decoder of the reference implementation's shares, written from the scheme
 * of shared/vectors/reference-shamir.json and independent of @dske/sss: scalar GF(2^8) (0x11B),
 * Lagrange at any x, node:crypto's HMAC. Share i has x = i; the secret is f(255); f(254) =
 * HMAC-SHA256(key = random_part, msg = secret)[:4] || random_part; shares x = 0..k-3 are random.
 */
import { createHmac, randomBytes } from "node:crypto";

export interface RawShare {
  x: number;
  y: Uint8Array;
}

function mul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    if (b & (1 << i)) r ^= a;
    a = a & 0x80 ? ((a << 1) ^ 0x11b) & 0xff : a << 1;
  }
  return r;
}

function inv(a: number): number {
  for (let b = 1; b < 256; b++) if (mul(a, b) === 1) return b;
  throw new Error("0 has no inverse");
}

/** f(at) of the polynomial through `points`, byte-wise. */
export function lagrange(points: readonly RawShare[], at: number): Uint8Array {
  const out = new Uint8Array(points[0].y.length);
  points.forEach((p, i) => {
    let c = 1;
    points.forEach((q, j) => {
      if (j !== i) c = mul(c, mul(at ^ q.x, inv(p.x ^ q.x)));
    });
    for (let b = 0; b < out.length; b++) out[b] ^= mul(c, p.y[b]);
  });
  return out;
}

function digest(randomPart: Uint8Array, secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", randomPart).update(secret).digest().subarray(0, 4));
}

/** n reference shares of `secret` (≥ 4 bytes), threshold k ≥ 2. */
export function encodeReference(secret: Uint8Array, n: number, k: number): RawShare[] {
  const L = secret.length;
  const randomPart = new Uint8Array(randomBytes(L - 4));
  const base: RawShare[] = [
    ...Array.from({ length: k - 2 }, (_, x) => ({ x, y: new Uint8Array(randomBytes(L)) })),
    { x: 254, y: new Uint8Array([...digest(randomPart, secret), ...randomPart]) },
    { x: 255, y: secret },
  ];
  return Array.from({ length: n }, (_, x) => (x < k - 2 ? base[x] : { x, y: lagrange(base, x) }));
}

/** The secret of `shares` (all of them interpolated) if its digest verifies, else undefined. */
export function decodeReference(shares: readonly RawShare[]): Uint8Array | undefined {
  const secret = lagrange(shares, 255);
  const d = lagrange(shares, 254);
  const want = digest(d.subarray(4), secret);
  return Buffer.from(want).equals(Buffer.from(d.subarray(0, 4))) ? secret : undefined;
}
