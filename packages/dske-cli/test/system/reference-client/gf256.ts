/**
 * GF(2^8) with the reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B, the AES field), as the
 * reference's SLIP-39-style Shamir uses it. Written for the reference client emulator from the
 * scheme text of the test vectors, independently of @dske/sss: shift-and-add multiplication and
 * the inverse as a^254 (a^255 = 1 for a != 0). Not constant time: test-only code.
 */

/** a · b in GF(2^8) mod 0x11B. */
export function gfMul(a: number, b: number): number {
  let x = a & 0xff;
  let y = b & 0xff;
  let product = 0;
  while (y !== 0) {
    if ((y & 1) !== 0) product ^= x;
    y >>= 1;
    x <<= 1;
    if ((x & 0x100) !== 0) x ^= 0x11b;
  }
  return product;
}

/** a^e by square-and-multiply. */
function gfPow(a: number, e: number): number {
  let result = 1;
  let base = a;
  let n = e;
  while (n > 0) {
    if ((n & 1) !== 0) result = gfMul(result, base);
    base = gfMul(base, base);
    n >>= 1;
  }
  return result;
}

/** The multiplicative inverse (a != 0). */
export function gfInv(a: number): number {
  if ((a & 0xff) === 0) throw new RangeError("0 has no inverse in GF(2^8)");
  return gfPow(a, 254);
}

/** a / b (b != 0). */
export function gfDiv(a: number, b: number): number {
  return gfMul(a, gfInv(b));
}

/**
 * The value at `x` of the polynomial of lowest degree through `points` (distinct x's), byte by
 * byte: Lagrange interpolation, Σ yᵢ · Π_{j≠i} (x − xⱼ)/(xᵢ − xⱼ); subtraction is XOR.
 */
export function interpolateAt(x: number, points: readonly { x: number; y: Uint8Array }[]): Uint8Array {
  if (points.length === 0) throw new RangeError("interpolation needs at least one point");
  const length = points[0].y.length;
  if (points.some((p) => p.y.length !== length)) throw new RangeError("interpolation points must have values of one length");
  if (new Set(points.map((p) => p.x)).size !== points.length) throw new RangeError("interpolation points must have distinct x");
  const out = new Uint8Array(length);
  for (const [i, pi] of points.entries()) {
    // The Lagrange basis polynomial of point i, evaluated at x (one field element for all bytes).
    let basis = 1;
    for (const [j, pj] of points.entries()) {
      if (j === i) continue;
      basis = gfMul(basis, gfDiv(x ^ pj.x, pi.x ^ pj.x));
    }
    for (let b = 0; b < length; b++) out[b] ^= gfMul(basis, pi.y[b]);
  }
  return out;
}
