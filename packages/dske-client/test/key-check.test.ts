import { createHash } from "node:crypto";
import fc from "fast-check";
import { gf128 } from "@dske/auth";
import { keyCheckWord, verifyKeyCheck, padKeyForCheck } from "../src/key-check";

const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
/** Deterministic bytes: SHA-256(seed ‖ ctr_be32) in counter mode (the vectors' rng). */
function rng(seed: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let ctr = 0, off = 0; off < n; ctr++, off += 32) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(ctr);
    out.set(
      createHash("sha256")
        .update(Buffer.concat([Buffer.from(seed, "utf8"), c]))
        .digest()
        .subarray(0, Math.min(32, n - off)),
      off,
    );
  }
  return out;
}

/** Independent reference over BigInt: cube by repeated shift-and-add multiplication. */
const MASK = (1n << 128n) - 1n;
function leToBig(u: Uint8Array): bigint {
  let v = 0n;
  for (let i = 15; i >= 0; i--) v = (v << 8n) | BigInt(u[i]);
  return v;
}
function refMul(a: bigint, b: bigint): bigint {
  let r = 0n;
  for (let i = 0n; i < 128n; i++) {
    if ((b >> i) & 1n) r ^= a;
    const carry = (a >> 127n) & 1n;
    a = (a << 1n) & MASK;
    if (carry) a ^= 0x87n;
  }
  return r;
}
function refCheck(words: Uint8Array): bigint {
  let acc = 0n;
  for (let i = 0; i < words.length; i += 16) {
    const y = leToBig(words.subarray(i, i + 16));
    acc ^= refMul(refMul(y, y), y);
  }
  return acc;
}

describe("keyCheckWord = Σ y_i^3", () => {
  test.each([16, 32, 48, 64, 160])("deterministic case, %d bytes: matches mul(mul(y,y),y) and the BigInt reference", (n) => {
    const words = rng(`key-check-${n}`, n);
    let expected: Uint8Array = new Uint8Array(16);
    for (let i = 0; i < n; i += 16) {
      const y = words.slice(i, i + 16);
      expected = gf128.add(expected, gf128.mul(gf128.mul(y, y), y));
    }
    const check = keyCheckWord(words);
    expect(toHex(check)).toBe(toHex(expected));
    expect(leToBig(check)).toBe(refCheck(words));
    expect(verifyKeyCheck(words, check)).toBe(true);
  });

  test("known small values: 1^3 = 1, x^3, and (1, x) sum", () => {
    const one = new Uint8Array(16);
    one[0] = 1;
    expect(toHex(keyCheckWord(one))).toBe("01" + "00".repeat(15));
    const x = new Uint8Array(16);
    x[0] = 2;
    expect(toHex(keyCheckWord(x))).toBe("08" + "00".repeat(15));
    const both = new Uint8Array(32);
    both.set(one, 0);
    both.set(x, 16);
    expect(toHex(keyCheckWord(both))).toBe("09" + "00".repeat(15));
  });

  test("any additive offset on the key or the check is rejected (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (y, delta, deltaT) => {
          fc.pre(delta.some((b) => b !== 0) || deltaT.some((b) => b !== 0));
          const check = keyCheckWord(y);
          const y2 = y.map((b, i) => b ^ delta[i]);
          const t2 = check.map((b, i) => b ^ deltaT[i]);
          // A fixed offset passes only with probability ≤ 2/2^128 over random y: never in practice.
          expect(verifyKeyCheck(y2, t2)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("rejects inputs that are not whole words and checks of the wrong size", () => {
    expect(() => keyCheckWord(new Uint8Array(0))).toThrow(RangeError);
    expect(() => keyCheckWord(new Uint8Array(20))).toThrow(RangeError);
    expect(verifyKeyCheck(new Uint8Array(16), new Uint8Array(15))).toBe(false);
  });

  test("padKeyForCheck pads with the supplied random bytes to whole words", () => {
    const key = new Uint8Array([1, 2, 3]);
    const padded = padKeyForCheck(key, (n) => new Uint8Array(n).fill(0xaa));
    expect(padded.length).toBe(16);
    expect([...padded.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(padded.subarray(3).every((b) => b === 0xaa)).toBe(true);
    expect(padKeyForCheck(new Uint8Array(32), () => new Uint8Array(0)).length).toBe(32);
    expect(() => padKeyForCheck(key, () => new Uint8Array(1))).toThrow(RangeError);
  });
});
