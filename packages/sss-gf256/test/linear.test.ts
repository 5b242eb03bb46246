import fc from "fast-check";
import { combine, combineRobust, gf256, split } from "../src/index";
import { linearCombine } from "../src/linear";
import { packVectors, toBytes } from "../src/words";

describe("SWAR kernel (linear.ts) against scalar gf256.mul", () => {
  it("Σ c_i · v_i matches byte-wise scalar arithmetic for 1..10 inputs (groups of 4, 3, 2, 1) and both pack paths", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 257, max: 600 })),
        fc.infiniteStream(fc.integer({ min: 0, max: 255 })),
        (count, L, stream) => {
          const it = stream[Symbol.iterator]();
          const next = (): number => it.next().value as number;
          const coeffs = Array.from({ length: count }, next);
          const inputs = Array.from({ length: count }, () => Uint8Array.from({ length: L }, next));
          const batch = packVectors(count, L, (i) => inputs[i]);
          const out = new Uint32Array(batch.words);
          linearCombine(out, batch.vectors, coeffs);
          const want = new Uint8Array(L);
          for (let j = 0; j < L; j++) for (let i = 0; i < count; i++) want[j] ^= gf256.mul(coeffs[i], inputs[i][j]);
          expect(toBytes(out, L)).toEqual(want);
          batch.wipe();
          expect(batch.vectors.every((v) => v.every((w) => w === 0))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("long secrets (memcpy pack path, lengths not multiple of 4)", () => {
  it.each([257, 1000, 4099, 65536])("L = %i: split/combine/robust round-trip", (L) => {
    const secret = Uint8Array.from({ length: L }, (_, i) => (i * 131 + 7) & 0xff);
    const shares = split(secret, 7, 4);
    expect(combine([shares[6], shares[0], shares[3], shares[2]])).toEqual(secret);
    const bad = shares.map((s) => ({ x: s.x, y: s.y.slice() }));
    bad[5].y[L - 1] ^= 0x80; // a single flipped bit at the very end of share x = 6
    expect(combineRobust(bad, 4)).toEqual({ secret, dropped: [6] });
  });
});
