import { gf256, SssError } from "../src/index";
import vectors from "./fixtures/gf8-vectors.json";

/** What fn throws (undefined if it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Independent reference: log/exp tables from generator 0x03, built with a plain "Russian peasant" multiply. */
function slowMul(a: number, b: number): number {
  let r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a <<= 1;
    if (a & 0x100) a ^= 0x11b;
    b >>= 1;
  }
  return r;
}

describe("gf256 scalar field (AES polynomial 0x11B)", () => {
  it.each(vectors.gf8_mul)("mul vector $a * $b = $product", ({ a, b, product }) => {
    const A = parseInt(a, 16),
      B = parseInt(b, 16),
      P = parseInt(product, 16);
    expect(gf256.mul(A, B)).toBe(P);
    expect(gf256.mul(B, A)).toBe(P);
    if (B !== 0) expect(gf256.div(P, B)).toBe(A);
  });

  it("mul agrees with a bitwise reference on all 65536 pairs", () => {
    let mismatches = 0;
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (gf256.mul(a, b) !== slowMul(a, b)) mismatches++;
    expect(mismatches).toBe(0);
  });

  it("inv(a) * a = 1 and div(a, b) * b = a for all nonzero a, b", () => {
    for (let a = 1; a < 256; a++) {
      expect(gf256.mul(a, gf256.inv(a))).toBe(1);
      for (let b = 1; b < 256; b += 7) expect(gf256.mul(gf256.div(a, b), b)).toBe(a);
    }
    expect(gf256.inv(0x53)).toBe(0xca); // FIPS-197 4.2 example
    expect(gf256.div(0, 9)).toBe(0);
  });

  it("add is XOR", () => {
    expect(gf256.add(0x57, 0x83)).toBe(0xd4);
    expect(gf256.add(0xff, 0xff)).toBe(0);
  });

  it("rejects division by zero and non-bytes with typed errors", () => {
    expect(thrownBy(() => gf256.inv(0))).toMatchObject({ code: "DIVISION_BY_ZERO" });
    expect(() => gf256.div(5, 0)).toThrow(SssError);
    for (const bad of [256, -1, 1.5, NaN]) {
      expect(thrownBy(() => gf256.mul(bad, 1))).toMatchObject({ code: "INVALID_TYPE" });
      expect(() => gf256.add(1, bad)).toThrow(SssError);
    }
  });
});
