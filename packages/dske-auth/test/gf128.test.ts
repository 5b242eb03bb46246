import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { gf128, polyHash, checkSecretTag, secretTagD, secretTagSigma, makeSecretTag } from "../src/index";

interface El {
  int_hex: string;
  bytes_le_hex: string;
}
// why: the vectors file is plain JSON produced by gen.py; its shape is described in dske-crypto.md §4.
const V = JSON.parse(readFileSync(join(__dirname, "fixtures", "gf128-vectors.json"), "utf8")) as {
  gf128_mul: Array<{ name: string; a: El; b: El; product: El }>;
  gf128_inv: Array<{ a: El; inverse: El }>;
  ghash_comparison: {
    gcm_cases: Array<{ name: string; H: string; A: string; C: string; GHASH: string }>;
    mul_pairs: Array<{
      bytes_x_hex: string;
      bytes_y_hex: string;
      ghash_product_block_hex: string;
      draft_product_of_same_bytes_le_hex: string;
    }>;
  };
  polyhash: Array<{ name: string; c: El; d: El; y: El[]; h: El; rng_bytes_hex?: string }>;
  secret_tag: Array<{
    name: string;
    c: El;
    e: El;
    y: El[];
    d_required: El;
    sigma_check: El;
    sigma_if_e_xor_1: El;
    secret_words_in_order: El[];
  }>;
};

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const el = (e: El): Uint8Array => hex(e.bytes_le_hex);

/** Independent reference: BigInt shift-and-add multiply with on-the-fly reduction. */
const R = (1n << 7n) | (1n << 2n) | (1n << 1n) | 1n;
const MASK = (1n << 128n) - 1n;
function leToBig(u: Uint8Array): bigint {
  let v = 0n;
  for (let i = 15; i >= 0; i--) v = (v << 8n) | BigInt(u[i]);
  return v;
}
function bigToLe(v: bigint): Uint8Array {
  const u = new Uint8Array(16);
  for (let i = 0; i < 16; i++) u[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return u;
}
function refMul(a: bigint, b: bigint): bigint {
  let r = 0n;
  for (let i = 0n; i < 128n; i++) {
    if ((b >> i) & 1n) r ^= a;
    const carry = (a >> 127n) & 1n;
    a = (a << 1n) & MASK;
    if (carry) a ^= R;
  }
  return r;
}
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

describe("gf128 field (draft Appendix A)", () => {
  test.each(V.gf128_mul.map((c) => [c.name, c] as const))("mul vector: %s", (_name, c) => {
    expect(toHex(gf128.mul(el(c.a), el(c.b)))).toBe(c.product.bytes_le_hex);
    expect(toHex(gf128.mul(el(c.b), el(c.a)))).toBe(c.product.bytes_le_hex);
  });

  test("int_hex and bytes_le_hex agree with the bit convention", () => {
    for (const c of V.gf128_mul) expect(leToBig(el(c.a))).toBe(BigInt(`0x${c.a.int_hex}`));
  });

  test.each(V.gf128_inv.map((c, i) => [i, c] as const))("inv vector %d", (_i, c) => {
    const inv = gf128.inv(el(c.a));
    expect(toHex(inv)).toBe(c.inverse.bytes_le_hex);
    expect(toHex(gf128.mul(el(c.a), inv))).toBe("01" + "00".repeat(15));
  });

  test("ghash_comparison: draft products of the same bytes", () => {
    expect(V.ghash_comparison.mul_pairs.length).toBeGreaterThan(0);
    for (const p of V.ghash_comparison.mul_pairs) {
      expect(toHex(gf128.mul(hex(p.bytes_x_hex), hex(p.bytes_y_hex)))).toBe(p.draft_product_of_same_bytes_le_hex);
    }
  });

  const rev8 = (b: number): number => {
    let r = 0;
    for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
    return r;
  };
  const reflect = (u: Uint8Array): Uint8Array => u.map(rev8);

  test("ghash_comparison: GHASH products via per-byte bit reflection", () => {
    for (const p of V.ghash_comparison.mul_pairs) {
      const prod = reflect(gf128.mul(reflect(hex(p.bytes_x_hex)), reflect(hex(p.bytes_y_hex))));
      expect(toHex(prod)).toBe(p.ghash_product_block_hex);
    }
  });

  test("ghash_comparison: GCM spec GHASH values via reflection", () => {
    for (const g of V.ghash_comparison.gcm_cases) {
      const H = reflect(hex(g.H));
      const blocks = (data: Uint8Array): Uint8Array[] => {
        const out: Uint8Array[] = [];
        for (let i = 0; i < data.length; i += 16) {
          const b = new Uint8Array(16);
          b.set(data.subarray(i, i + 16));
          out.push(b);
        }
        return out;
      };
      const A = hex(g.A);
      const C = hex(g.C);
      const len = new Uint8Array(16);
      const dv = new DataView(len.buffer);
      dv.setBigUint64(0, BigInt(A.length * 8));
      dv.setBigUint64(8, BigInt(C.length * 8));
      let x: Uint8Array = new Uint8Array(16);
      for (const b of [...blocks(A), ...blocks(C), len]) x = gf128.mul(gf128.add(x, reflect(b)), H);
      expect(toHex(reflect(x))).toBe(g.GHASH);
    }
  });

  test("mul agrees with an independent BigInt reference (property)", () => {
    fc.assert(
      fc.property(bytes16, bytes16, (a, b) => {
        expect(toHex(gf128.mul(a, b))).toBe(toHex(bigToLe(refMul(leToBig(a), leToBig(b)))));
      }),
      { numRuns: 300 },
    );
  });

  test("field laws (property): distributivity, associativity, inverse", () => {
    fc.assert(
      fc.property(bytes16, bytes16, bytes16, (a, b, c) => {
        expect(toHex(gf128.mul(a, gf128.add(b, c)))).toBe(toHex(gf128.add(gf128.mul(a, b), gf128.mul(a, c))));
        expect(toHex(gf128.mul(gf128.mul(a, b), c))).toBe(toHex(gf128.mul(a, gf128.mul(b, c))));
        if (a.some((x) => x !== 0)) expect(toHex(gf128.mul(a, gf128.inv(a)))).toBe("01" + "00".repeat(15));
      }),
      { numRuns: 50 },
    );
  });

  test("rejects wrong-sized operands", () => {
    expect(() => gf128.mul(new Uint8Array(15), new Uint8Array(16))).toThrow(RangeError);
    expect(() => gf128.inv(new Uint8Array(17))).toThrow(RangeError);
  });
});

describe("polyHash h(c, d, y) = d + Σ c^i y_i", () => {
  test.each(V.polyhash.map((c) => [c.name, c] as const))("vector: %s", (_name, c) => {
    expect(toHex(polyHash(el(c.c), el(c.d), c.y.map(el)))).toBe(c.h.bytes_le_hex);
    // flat form: the PSRD-style layout c‖d‖y1‖…‖ym
    if (c.rng_bytes_hex) {
      const raw = hex(c.rng_bytes_hex);
      expect(toHex(polyHash(raw.subarray(0, 16), raw.subarray(16, 32), raw.subarray(32)))).toBe(c.h.bytes_le_hex);
    }
  });

  test("agrees with the power-sum form (property)", () => {
    fc.assert(
      fc.property(bytes16, bytes16, fc.array(bytes16, { maxLength: 10 }), (c, d, y) => {
        let sum: Uint8Array = d;
        let p: Uint8Array = c;
        for (const w of y) {
          sum = gf128.add(sum, gf128.mul(p, w));
          p = gf128.mul(p, c);
        }
        expect(toHex(polyHash(c, d, y))).toBe(toHex(sum));
      }),
      { numRuns: 100 },
    );
  });

  test("unaligned buffers (byte-wise path) give the same hash as aligned ones", () => {
    for (const c of V.polyhash.filter((v) => v.y.length > 0)) {
      const y = Buffer.concat(c.y.map((w) => Buffer.from(w.bytes_le_hex, "hex")));
      const backing = new Uint8Array(y.length + 3);
      backing.set(y, 3);
      const unaligned = backing.subarray(3);
      expect(unaligned.byteOffset % 4).toBe(3);
      expect(toHex(polyHash(el(c.c), el(c.d), unaligned))).toBe(c.h.bytes_le_hex);
    }
  });

  test("rejects a flat buffer that is not whole words", () => {
    expect(() => polyHash(new Uint8Array(16), new Uint8Array(16), new Uint8Array(17))).toThrow(RangeError);
  });
});

describe("secret tag σ = d + c·e + Σ c^(i+1) y_i", () => {
  test.each(V.secret_tag.map((c) => [c.name, c] as const))("vector: %s", (_name, c) => {
    const d = secretTagD(el(c.c), el(c.e), c.y.map(el));
    expect(toHex(d)).toBe(c.d_required.bytes_le_hex);
    expect(toHex(makeSecretTag(el(c.c), el(c.e), c.y.map(el)))).toBe(c.d_required.bytes_le_hex);
    expect(toHex(secretTagSigma(el(c.c), d, el(c.e), c.y.map(el)))).toBe(c.sigma_check.bytes_le_hex);
    expect(checkSecretTag(el(c.c), d, el(c.e), c.y.map(el))).toBe(true);
    const e1 = el(c.e);
    e1[0] ^= 1;
    expect(toHex(secretTagSigma(el(c.c), d, e1, c.y.map(el)))).toBe(c.sigma_if_e_xor_1.bytes_le_hex);
    expect(checkSecretTag(el(c.c), d, e1, c.y.map(el))).toBe(false);
    expect(c.secret_words_in_order.map((w) => w.bytes_le_hex)).toEqual([c.c, c.d_required, c.e, ...c.y].map((w) => w.bytes_le_hex));
  });

  test("any change of d or y is detected (property)", () => {
    fc.assert(
      fc.property(bytes16, bytes16, fc.array(bytes16, { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(127), (c, e, y, wi, bit) => {
        fc.pre(c.some((x) => x !== 0));
        const d = secretTagD(c, e, y);
        expect(checkSecretTag(c, d, e, y)).toBe(true);
        const y2 = y.map((w) => new Uint8Array(w));
        y2[wi % y2.length][bit >> 3] ^= 1 << (bit & 7);
        expect(checkSecretTag(c, d, e, y2)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
