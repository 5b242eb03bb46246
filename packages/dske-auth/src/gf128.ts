/**
 * GF(2^128) of draft-mwag-dske Appendix A: F = GF(2)[x] / (x^128 + x^7 + x^2 + x + 1).
 *
 * Conventions (shared/notes/dske-crypto.md §1): bit k of the 128-bit integer is the coefficient of
 * x^k; a field element is serialized as 16 bytes, least-significant byte first ("bytes_le_hex").
 * Internally an element is four 32-bit limbs, limb j holding x^(32j) .. x^(32j+31).
 *
 * Constant time: no branch and no memory index depends on field values. The carry-less multiply is
 * built from `Math.imul` "multiplication with holes" (the BearSSL ctmul idea): a 16-bit operand is
 * split into three parts whose set bits are 3 positions apart, so the up-to-6 partial products
 * that meet at one position can never carry into the next position of the same residue class. A
 * 16×16 → 32 carry-less product costs 9 integer multiplies; 128×128 uses three levels of
 * Karatsuba (27 such products), then a shift/xor reduction by x^128 = x^7 + x^2 + x + 1.
 * Integer multiplication is constant time on every CPU Node 20 supports (x86-64, arm64).
 */

/** Bytes in a field element. */
export const GF128_BYTES = 16;

const M0 = 0x9249; // bits 0,3,6,9,12,15
const M1 = 0x2492; // bits 1,4,7,10,13
const M2 = 0x4924; // bits 2,5,8,11,14
const P0 = 0x49249249; // product positions ≡ 0 (mod 3)
const P1 = 0x92492492 | 0; // ≡ 1
const P2 = 0x24924924; // ≡ 2

/**
 * `Math.imul` held in a module constant: inside a node:vm context (as in jest) every lookup of a
 * global such as `Math` goes through the context's interceptor, which made this arithmetic ~150×
 * slower there; a local binding costs nothing in either case.
 */
const imul = Math.imul;

/** Number of 32-bit words in a prepared (pre-split) multiplier. */
export const PREPARED_LENGTH = 81;

// why: a second return value without allocating (hot path).
let hi32 = 0;

/**
 * Carry-less 32×32 → 64 product of `a` by the pre-split 32-bit value at k[o..o+8]; returns the
 * low word and sets hi32. Karatsuba over 16-bit halves: three 16×16 → 32 products, each with 9
 * multiplies with holes (written out: small enough for V8 to keep in registers, and ~20% faster
 * than a helper per 16-bit product).
 */
function cm32(a: number, k: Int32Array, o: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const am = a0 ^ a1;
  let x0 = a0 & M0;
  let x1 = a0 & M1;
  let x2 = a0 & M2;
  let y0 = k[o];
  let y1 = k[o + 1];
  let y2 = k[o + 2];
  const l =
    ((imul(x0, y0) ^ imul(x1, y2) ^ imul(x2, y1)) & P0) |
    ((imul(x0, y1) ^ imul(x1, y0) ^ imul(x2, y2)) & P1) |
    ((imul(x0, y2) ^ imul(x1, y1) ^ imul(x2, y0)) & P2);
  x0 = a1 & M0;
  x1 = a1 & M1;
  x2 = a1 & M2;
  y0 = k[o + 3];
  y1 = k[o + 4];
  y2 = k[o + 5];
  const h =
    ((imul(x0, y0) ^ imul(x1, y2) ^ imul(x2, y1)) & P0) |
    ((imul(x0, y1) ^ imul(x1, y0) ^ imul(x2, y2)) & P1) |
    ((imul(x0, y2) ^ imul(x1, y1) ^ imul(x2, y0)) & P2);
  x0 = am & M0;
  x1 = am & M1;
  x2 = am & M2;
  y0 = k[o + 6];
  y1 = k[o + 7];
  y2 = k[o + 8];
  const m =
    (((imul(x0, y0) ^ imul(x1, y2) ^ imul(x2, y1)) & P0) |
      ((imul(x0, y1) ^ imul(x1, y0) ^ imul(x2, y2)) & P1) |
      ((imul(x0, y2) ^ imul(x1, y1) ^ imul(x2, y0)) & P2)) ^
    l ^
    h;
  hi32 = h ^ (m >>> 16);
  return l ^ (m << 16);
}

/** Carry-less 64×64 → 128 product (Karatsuba over 32-bit halves) into z[zi..zi+3]. */
function cm64(a0: number, a1: number, k: Int32Array, o: number, z: Int32Array, zi: number): void {
  const l0 = cm32(a0, k, o);
  const l1 = hi32;
  const h0 = cm32(a1, k, o + 9);
  const h1 = hi32;
  let m0 = cm32(a0 ^ a1, k, o + 18);
  let m1 = hi32;
  m0 ^= l0 ^ h0;
  m1 ^= l1 ^ h1;
  z[zi] = l0;
  z[zi + 1] = l1 ^ m0;
  z[zi + 2] = h0 ^ m1;
  z[zi + 3] = h1;
}

function split16(u: number, k: Int32Array, o: number): void {
  k[o] = u & M0;
  k[o + 1] = u & M1;
  k[o + 2] = u & M2;
}

function split32(v: number, k: Int32Array, o: number): void {
  const lo = v & 0xffff;
  const hi = v >>> 16;
  split16(lo, k, o);
  split16(hi, k, o + 3);
  split16(lo ^ hi, k, o + 6);
}

function split64(x0: number, x1: number, k: Int32Array, o: number): void {
  split32(x0, k, o);
  split32(x1, k, o + 9);
  split32(x0 ^ x1, k, o + 18);
}

/**
 * Pre-split a multiplier (four 32-bit limbs) for repeated multiplication by it (the MAC key c):
 * the Karatsuba operands and their masked parts. Contents are secret; zero after use.
 */
export function prepareLimbs(b0: number, b1: number, b2: number, b3: number, out?: Int32Array): Int32Array {
  const k = out ?? new Int32Array(PREPARED_LENGTH);
  split64(b0, b1, k, 0);
  split64(b2, b3, k, 27);
  split64(b0 ^ b2, b1 ^ b3, k, 54);
  return k;
}

const scratch = new Int32Array(12);

/**
 * s ← s · k in F, where s is four 32-bit limbs (little-endian limb order) and k a prepared
 * multiplier. Constant time.
 */
export function mulPreparedInPlace(s: Int32Array, k: Int32Array): void {
  const a0 = s[0];
  const a1 = s[1];
  const a2 = s[2];
  const a3 = s[3];
  const z = scratch;
  cm64(a0, a1, k, 0, z, 0);
  cm64(a2, a3, k, 27, z, 4);
  cm64(a0 ^ a2, a1 ^ a3, k, 54, z, 8);
  // middle term: Pm ^= P0 ^ P2
  const m0 = z[8] ^ z[0] ^ z[4];
  const m1 = z[9] ^ z[1] ^ z[5];
  const m2 = z[10] ^ z[2] ^ z[6];
  const m3 = z[11] ^ z[3] ^ z[7];
  // 256-bit product limbs
  const z0 = z[0];
  const z1 = z[1];
  const z2 = z[2] ^ m0;
  const z3 = z[3] ^ m1;
  const h0 = z[4] ^ m2;
  const h1 = z[5] ^ m3;
  const h2 = z[6];
  const h3 = z[7];
  // reduce: H·x^128 = H·(1 + x + x^2 + x^7); first the 135-bit H·(1+x+x^2+x^7) ...
  const t0 = h0 ^ (h0 << 1) ^ (h0 << 2) ^ (h0 << 7);
  const t1 = h1 ^ (h1 << 1) ^ (h1 << 2) ^ (h1 << 7) ^ (h0 >>> 31) ^ (h0 >>> 30) ^ (h0 >>> 25);
  const t2 = h2 ^ (h2 << 1) ^ (h2 << 2) ^ (h2 << 7) ^ (h1 >>> 31) ^ (h1 >>> 30) ^ (h1 >>> 25);
  const t3 = h3 ^ (h3 << 1) ^ (h3 << 2) ^ (h3 << 7) ^ (h2 >>> 31) ^ (h2 >>> 30) ^ (h2 >>> 25);
  // ... then its 7 overflow bits (x^128..x^134) once more (they fit below x^14).
  const o = (h3 >>> 31) ^ (h3 >>> 30) ^ (h3 >>> 25);
  s[0] = z0 ^ t0 ^ o ^ (o << 1) ^ (o << 2) ^ (o << 7);
  s[1] = z1 ^ t1;
  s[2] = z2 ^ t2;
  s[3] = z3 ^ t3;
}

function readLimbs(bytes: Uint8Array, off: number, s: Int32Array): void {
  for (let j = 0; j < 4; j++) {
    const p = off + 4 * j;
    s[j] = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
  }
}

function writeLimbs(s: Int32Array, out: Uint8Array, off: number): void {
  for (let j = 0; j < 4; j++) {
    const v = s[j];
    const p = off + 4 * j;
    out[p] = v & 0xff;
    out[p + 1] = (v >>> 8) & 0xff;
    out[p + 2] = (v >>> 16) & 0xff;
    out[p + 3] = (v >>> 24) & 0xff;
  }
}

function checkElement(a: Uint8Array, name: string): void {
  if (!(a instanceof Uint8Array) || a.length !== GF128_BYTES) {
    throw new RangeError(`${name} must be a Uint8Array of ${GF128_BYTES} bytes`);
  }
}

/** Load a 16-byte LE element into limbs (new Int32Array(4)). */
export function toLimbs(a: Uint8Array, offset = 0): Int32Array {
  const s = new Int32Array(4);
  readLimbs(a, offset, s);
  return s;
}

/** Serialize limbs as a 16-byte LE element. */
export function fromLimbs(s: Int32Array): Uint8Array {
  const out = new Uint8Array(GF128_BYTES);
  writeLimbs(s, out, 0);
  return out;
}

/** Prepare a 16-byte element as multiplier (see prepareLimbs). */
export function prepare(b: Uint8Array, offset = 0): Int32Array {
  const s = new Int32Array(4);
  readLimbs(b, offset, s);
  const k = prepareLimbs(s[0], s[1], s[2], s[3]);
  s.fill(0);
  return k;
}

/** a + b (XOR). */
function add(a: Uint8Array, b: Uint8Array): Uint8Array {
  checkElement(a, "a");
  checkElement(b, "b");
  const out = new Uint8Array(GF128_BYTES);
  for (let i = 0; i < GF128_BYTES; i++) out[i] = a[i] ^ b[i];
  return out;
}

const mulK = new Int32Array(PREPARED_LENGTH);
const mulS = new Int32Array(4);

/** a · b in F. Constant time. */
function mul(a: Uint8Array, b: Uint8Array): Uint8Array {
  checkElement(a, "a");
  checkElement(b, "b");
  readLimbs(b, 0, mulS);
  prepareLimbs(mulS[0], mulS[1], mulS[2], mulS[3], mulK);
  readLimbs(a, 0, mulS);
  mulPreparedInPlace(mulS, mulK);
  const out = new Uint8Array(GF128_BYTES);
  writeLimbs(mulS, out, 0);
  mulK.fill(0);
  mulS.fill(0);
  return out;
}

/** a^(2^128 − 2) = a^(−1) for a ≠ 0 (and 0 for a = 0). Fixed square-and-multiply chain. */
function inv(a: Uint8Array): Uint8Array {
  checkElement(a, "a");
  const base = prepare(a);
  const r = toLimbs(a); // a^(2^1 - 1)
  const sq = new Int32Array(PREPARED_LENGTH);
  // r = a^(2^i - 1) for i = 1..127: r ← r^2 · a
  for (let i = 1; i < 127; i++) {
    prepareLimbs(r[0], r[1], r[2], r[3], sq);
    mulPreparedInPlace(r, sq);
    mulPreparedInPlace(r, base);
  }
  // a^(2^128 - 2) = (a^(2^127 - 1))^2
  prepareLimbs(r[0], r[1], r[2], r[3], sq);
  mulPreparedInPlace(r, sq);
  const out = fromLimbs(r);
  base.fill(0);
  sq.fill(0);
  r.fill(0);
  return out;
}

/** Constant-time equality of two byte strings of equal length (false if lengths differ). */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** The field F of the draft, on 16-byte little-endian Uint8Arrays. */
export const gf128 = {
  BYTES: GF128_BYTES,
  add,
  mul,
  inv,
  equal,
  zero: (): Uint8Array => new Uint8Array(GF128_BYTES),
  one: (): Uint8Array => {
    const o = new Uint8Array(GF128_BYTES);
    o[0] = 1;
    return o;
  },
} as const;
