import { SssError } from "./errors.js";

/**
 * Scalar arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B).
 *
 * Constant time: no table lookups and no branches on the operands (shift/xor/mask only).
 * `div` and `inv` branch on a zero divisor only to throw. The hot paths (split/combine) do not
 * use these scalar helpers on secret data; see `linear.ts`.
 */

function assertByte(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) {
    throw new SssError("INVALID_TYPE", `${name} must be an integer in 0..255, got ${String(v)}`);
  }
}

/** Addition (= subtraction) is XOR. */
export function add(a: number, b: number): number {
  assertByte("a", a);
  assertByte("b", b);
  return a ^ b;
}

/** Multiplication without validation (internal; operands must be bytes). */
export function mulUnchecked(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    r ^= -((b >>> i) & 1) & a; // add a when bit i of b is set, via a mask (no branch)
    a = (a << 1) ^ (-(a >>> 7) & 0x11b); // a *= x, reduced mod 0x11B (no branch)
  }
  return r & 0xff;
}

export function mul(a: number, b: number): number {
  assertByte("a", a);
  assertByte("b", b);
  return mulUnchecked(a, b);
}

/** a^254 = a^-1 for a != 0 (and 0 for a = 0); fixed square-and-multiply chain. */
function pow254(a: number): number {
  // 254 = 0b11111110: r = a^2 * a^4 * ... * a^128
  let sq = mulUnchecked(a, a); // a^2
  let r = sq;
  for (let i = 0; i < 6; i++) {
    sq = mulUnchecked(sq, sq); // a^4 .. a^128
    r = mulUnchecked(r, sq);
  }
  return r;
}

export function inv(a: number): number {
  assertByte("a", a);
  if (a === 0) throw new SssError("DIVISION_BY_ZERO", "0 has no inverse in GF(2^8)");
  return pow254(a);
}

export function div(a: number, b: number): number {
  assertByte("a", a);
  assertByte("b", b);
  if (b === 0) throw new SssError("DIVISION_BY_ZERO", "division by 0 in GF(2^8)");
  return mulUnchecked(a, pow254(b));
}
