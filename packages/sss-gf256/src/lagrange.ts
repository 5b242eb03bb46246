import { mulUnchecked } from "./gf256.js";

/**
 * Lagrange coefficients and powers of PUBLIC values (share x's, evaluation points).
 *
 * Only public values enter this file, so it may use log/exp tables and branches: the x's are
 * known to everyone, and nothing here depends on a secret. (Secret bytes are only ever
 * multiplied by these results in the constant-time kernel, linear.ts.)
 */
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let v = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = v;
    EXP[i + 255] = v;
    LOG[v] = i;
    v = mulUnchecked(v, 3); // 3 generates GF(2^8)* for 0x11B
  }
}

/** a·b for public a, b. */
function mulPublic(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

/** a/b for public a, b (b != 0). */
function divPublic(a: number, b: number): number {
  return a === 0 ? 0 : EXP[LOG[a] + 255 - LOG[b]];
}

/**
 * λ_i(at) = Π_{j≠i} (at − x_j) / (x_i − x_j) for distinct x's, so that f(at) = Σ λ_i · f(x_i)
 * for any f of degree < xs.length.
 */
export function lagrangeCoefficients(xs: readonly number[], at: number): number[] {
  const coeffs: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    let num = 1;
    let den = 1;
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue;
      num = mulPublic(num, at ^ xs[j]);
      den = mulPublic(den, xs[i] ^ xs[j]);
    }
    coeffs.push(divPublic(num, den));
  }
  return coeffs;
}

/** [1, x, x^2, ..., x^(count-1)] for public x. */
export function powers(x: number, count: number): number[] {
  const out: number[] = [];
  let p = 1;
  for (let t = 0; t < count; t++) {
    out.push(p);
    p = mulPublic(p, x);
  }
  return out;
}
