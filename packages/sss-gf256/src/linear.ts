/**
 * The one secret-touching primitive: out = Σ c_i · v_i over GF(2^8), byte-wise, where the v_i are
 * SECRET byte vectors (4 bytes per Uint32 word, SWAR) and the c_i are PUBLIC constants
 * (Lagrange coefficients or powers of the public x's).
 *
 * Constant time: multiplication by a public c is GF(2)-linear, c·v = Σ_j c_j · (2^j · v).
 * We evaluate it bit-plane-wise with Horner from the top bit:
 *   acc = xtime(acc) ^ (v & m_j),   m_j = -(bit j of c)  (0 or 0xFFFFFFFF, from the PUBLIC c)
 * where xtime multiplies each of the 4 byte lanes by x (shift, mask, reduce by 0x1B via an
 * integer multiply of a 0/1 lane bit). There is no table and no branch on secret data; the
 * only branches depend on the number of inputs and on the vector length (public).
 *
 * Inputs are handled in groups of up to 4 vectors per pass so one Horner chain serves them all.
 */

/** Multiply each byte lane of w by x (i.e. by 2) modulo 0x11B. */
function xt(w: number): number {
  return ((w & 0x7f7f7f7f) << 1) ^ (((w >>> 7) & 0x01010101) * 0x1b);
}

function mulAdd1(out: Uint32Array, v0: Uint32Array, c0: number, start: number, end: number): void {
  const a7 = -((c0 >>> 7) & 1),
    a6 = -((c0 >>> 6) & 1),
    a5 = -((c0 >>> 5) & 1),
    a4 = -((c0 >>> 4) & 1);
  const a3 = -((c0 >>> 3) & 1),
    a2 = -((c0 >>> 2) & 1),
    a1 = -((c0 >>> 1) & 1),
    a0 = -(c0 & 1);
  for (let w = start; w < end; w++) {
    const p = v0[w];
    let acc = p & a7;
    acc = xt(acc) ^ (p & a6);
    acc = xt(acc) ^ (p & a5);
    acc = xt(acc) ^ (p & a4);
    acc = xt(acc) ^ (p & a3);
    acc = xt(acc) ^ (p & a2);
    acc = xt(acc) ^ (p & a1);
    acc = xt(acc) ^ (p & a0);
    out[w] ^= acc;
  }
}

function mulAdd2(out: Uint32Array, v0: Uint32Array, v1: Uint32Array, c0: number, c1: number, start: number, end: number): void {
  const a7 = -((c0 >>> 7) & 1),
    a6 = -((c0 >>> 6) & 1),
    a5 = -((c0 >>> 5) & 1),
    a4 = -((c0 >>> 4) & 1);
  const a3 = -((c0 >>> 3) & 1),
    a2 = -((c0 >>> 2) & 1),
    a1 = -((c0 >>> 1) & 1),
    a0 = -(c0 & 1);
  const b7 = -((c1 >>> 7) & 1),
    b6 = -((c1 >>> 6) & 1),
    b5 = -((c1 >>> 5) & 1),
    b4 = -((c1 >>> 4) & 1);
  const b3 = -((c1 >>> 3) & 1),
    b2 = -((c1 >>> 2) & 1),
    b1 = -((c1 >>> 1) & 1),
    b0 = -(c1 & 1);
  for (let w = start; w < end; w++) {
    const p = v0[w],
      q = v1[w];
    let acc = (p & a7) ^ (q & b7);
    acc = xt(acc) ^ (p & a6) ^ (q & b6);
    acc = xt(acc) ^ (p & a5) ^ (q & b5);
    acc = xt(acc) ^ (p & a4) ^ (q & b4);
    acc = xt(acc) ^ (p & a3) ^ (q & b3);
    acc = xt(acc) ^ (p & a2) ^ (q & b2);
    acc = xt(acc) ^ (p & a1) ^ (q & b1);
    acc = xt(acc) ^ (p & a0) ^ (q & b0);
    out[w] ^= acc;
  }
}

function mulAdd3(
  out: Uint32Array,
  v0: Uint32Array,
  v1: Uint32Array,
  v2: Uint32Array,
  c0: number,
  c1: number,
  c2: number,
  start: number,
  end: number,
): void {
  const a7 = -((c0 >>> 7) & 1),
    a6 = -((c0 >>> 6) & 1),
    a5 = -((c0 >>> 5) & 1),
    a4 = -((c0 >>> 4) & 1);
  const a3 = -((c0 >>> 3) & 1),
    a2 = -((c0 >>> 2) & 1),
    a1 = -((c0 >>> 1) & 1),
    a0 = -(c0 & 1);
  const b7 = -((c1 >>> 7) & 1),
    b6 = -((c1 >>> 6) & 1),
    b5 = -((c1 >>> 5) & 1),
    b4 = -((c1 >>> 4) & 1);
  const b3 = -((c1 >>> 3) & 1),
    b2 = -((c1 >>> 2) & 1),
    b1 = -((c1 >>> 1) & 1),
    b0 = -(c1 & 1);
  const d7 = -((c2 >>> 7) & 1),
    d6 = -((c2 >>> 6) & 1),
    d5 = -((c2 >>> 5) & 1),
    d4 = -((c2 >>> 4) & 1);
  const d3 = -((c2 >>> 3) & 1),
    d2 = -((c2 >>> 2) & 1),
    d1 = -((c2 >>> 1) & 1),
    d0 = -(c2 & 1);
  for (let w = start; w < end; w++) {
    const p = v0[w],
      q = v1[w],
      r = v2[w];
    let acc = (p & a7) ^ (q & b7) ^ (r & d7);
    acc = xt(acc) ^ (p & a6) ^ (q & b6) ^ (r & d6);
    acc = xt(acc) ^ (p & a5) ^ (q & b5) ^ (r & d5);
    acc = xt(acc) ^ (p & a4) ^ (q & b4) ^ (r & d4);
    acc = xt(acc) ^ (p & a3) ^ (q & b3) ^ (r & d3);
    acc = xt(acc) ^ (p & a2) ^ (q & b2) ^ (r & d2);
    acc = xt(acc) ^ (p & a1) ^ (q & b1) ^ (r & d1);
    acc = xt(acc) ^ (p & a0) ^ (q & b0) ^ (r & d0);
    out[w] ^= acc;
  }
}

function mulAdd4(
  out: Uint32Array,
  v0: Uint32Array,
  v1: Uint32Array,
  v2: Uint32Array,
  v3: Uint32Array,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  start: number,
  end: number,
): void {
  const a7 = -((c0 >>> 7) & 1),
    a6 = -((c0 >>> 6) & 1),
    a5 = -((c0 >>> 5) & 1),
    a4 = -((c0 >>> 4) & 1);
  const a3 = -((c0 >>> 3) & 1),
    a2 = -((c0 >>> 2) & 1),
    a1 = -((c0 >>> 1) & 1),
    a0 = -(c0 & 1);
  const b7 = -((c1 >>> 7) & 1),
    b6 = -((c1 >>> 6) & 1),
    b5 = -((c1 >>> 5) & 1),
    b4 = -((c1 >>> 4) & 1);
  const b3 = -((c1 >>> 3) & 1),
    b2 = -((c1 >>> 2) & 1),
    b1 = -((c1 >>> 1) & 1),
    b0 = -(c1 & 1);
  const d7 = -((c2 >>> 7) & 1),
    d6 = -((c2 >>> 6) & 1),
    d5 = -((c2 >>> 5) & 1),
    d4 = -((c2 >>> 4) & 1);
  const d3 = -((c2 >>> 3) & 1),
    d2 = -((c2 >>> 2) & 1),
    d1 = -((c2 >>> 1) & 1),
    d0 = -(c2 & 1);
  const e7 = -((c3 >>> 7) & 1),
    e6 = -((c3 >>> 6) & 1),
    e5 = -((c3 >>> 5) & 1),
    e4 = -((c3 >>> 4) & 1);
  const e3 = -((c3 >>> 3) & 1),
    e2 = -((c3 >>> 2) & 1),
    e1 = -((c3 >>> 1) & 1),
    e0 = -(c3 & 1);
  for (let w = start; w < end; w++) {
    const p = v0[w],
      q = v1[w],
      r = v2[w],
      s = v3[w];
    let acc = (p & a7) ^ (q & b7) ^ (r & d7) ^ (s & e7);
    acc = xt(acc) ^ (p & a6) ^ (q & b6) ^ (r & d6) ^ (s & e6);
    acc = xt(acc) ^ (p & a5) ^ (q & b5) ^ (r & d5) ^ (s & e5);
    acc = xt(acc) ^ (p & a4) ^ (q & b4) ^ (r & d4) ^ (s & e4);
    acc = xt(acc) ^ (p & a3) ^ (q & b3) ^ (r & d3) ^ (s & e3);
    acc = xt(acc) ^ (p & a2) ^ (q & b2) ^ (r & d2) ^ (s & e2);
    acc = xt(acc) ^ (p & a1) ^ (q & b1) ^ (r & d1) ^ (s & e1);
    acc = xt(acc) ^ (p & a0) ^ (q & b0) ^ (r & d0) ^ (s & e0);
    out[w] ^= acc;
  }
}

/**
 * out[start..end) ^= Σ coeffs[i] · inputs[i][start..end)  (word range; coeffs are public bytes).
 * Call `out.fill(0, start, end)` first for a plain linear combination.
 */
export function linearCombineXor(
  out: Uint32Array,
  inputs: readonly Uint32Array[],
  coeffs: readonly number[],
  start = 0,
  end = out.length,
): void {
  const k = inputs.length;
  let i = 0;
  for (; i + 4 <= k; i += 4) {
    mulAdd4(
      out,
      inputs[i],
      inputs[i + 1],
      inputs[i + 2],
      inputs[i + 3],
      coeffs[i],
      coeffs[i + 1],
      coeffs[i + 2],
      coeffs[i + 3],
      start,
      end,
    );
  }
  const rest = k - i;
  if (rest === 3) mulAdd3(out, inputs[i], inputs[i + 1], inputs[i + 2], coeffs[i], coeffs[i + 1], coeffs[i + 2], start, end);
  else if (rest === 2) mulAdd2(out, inputs[i], inputs[i + 1], coeffs[i], coeffs[i + 1], start, end);
  else if (rest === 1) mulAdd1(out, inputs[i], coeffs[i], start, end);
}

/** out = Σ coeffs[i] · inputs[i] over the whole vectors. */
export function linearCombine(out: Uint32Array, inputs: readonly Uint32Array[], coeffs: readonly number[]): void {
  out.fill(0);
  linearCombineXor(out, inputs, coeffs, 0, out.length);
}

/**
 * Constant-time equality of a[start..end) and b[start..end): accumulates XOR differences, no
 * early exit inside the range.
 */
export function wordsEqual(a: Uint32Array, b: Uint32Array, start = 0, end = a.length): boolean {
  let diff = 0;
  for (let w = start; w < end; w++) diff |= a[w] ^ b[w];
  return diff === 0;
}
