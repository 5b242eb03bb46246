import fc from "fast-check";
import {
  combine,
  combineRobust,
  extendShares,
  interpolateAt,
  SssInconsistentSharesError,
  split,
  verifyConsistent,
  type Share,
} from "../src/index";
import { subsets } from "./helpers";

/** (n, k) with 1 <= k <= n <= 8 and a secret of 1..70 bytes (covers lengths that are not multiples of 4). */
const sharing = fc
  .integer({ min: 1, max: 8 })
  .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 1, max: n }) }))
  .chain(({ n, k }) => fc.record({ n: fc.constant(n), k: fc.constant(k), secret: fc.uint8Array({ minLength: 1, maxLength: 70 }) }));

const copy = (shares: Share[]): Share[] => shares.map((s) => ({ x: s.x, y: s.y.slice() }));

/** A corruption: XOR `bytes` (bytes[0] != 0) into a share starting at byte `pos % L` (wrapping). */
interface Delta {
  pos: number;
  bytes: Uint8Array;
}

const nonzeroDelta: fc.Arbitrary<Delta> = fc
  .record({
    pos: fc.nat(),
    first: fc.integer({ min: 1, max: 255 }),
    rest: fc.uint8Array({ maxLength: 7 }),
  })
  .map(({ pos, first, rest }) => ({ pos, bytes: Uint8Array.from([first, ...rest]) }));

/** Corrupts the shares at the given indices; each chosen share really changes (at byte pos % L). */
function corrupt(shares: Share[], indices: number[], deltas: Delta[]): Share[] {
  const out = copy(shares);
  indices.forEach((i, j) => {
    const { pos, bytes } = deltas[j];
    const y = out[i].y;
    for (let t = 0; t < Math.min(bytes.length, y.length); t++) y[(pos + t) % y.length] ^= bytes[t];
  });
  return out;
}

describe("properties", () => {
  it("every k-subset (any order) recovers the secret, and so do all n shares", () => {
    fc.assert(
      fc.property(sharing, ({ n, k, secret }) => {
        const shares = split(secret, n, k);
        expect(shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        for (const subset of subsets(shares, k)) {
          expect(combine(subset.slice().reverse())).toEqual(secret);
          expect(combine(subset, k)).toEqual(secret);
        }
        expect(combine(shares)).toEqual(secret); // all n shares: degree n-1 interpolation still gives f(0)
        expect(verifyConsistent(shares, k)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("up to ⌊(m-k)/2⌋ corrupted shares are dropped (exact x's reported) and the secret is right", () => {
    const arb = fc.record({ k: fc.integer({ min: 1, max: 5 }), extra: fc.integer({ min: 2, max: 6 }) }).chain(({ k, extra }) => {
      const m = k + extra;
      const maxBad = Math.floor(extra / 2);
      return fc.record({
        k: fc.constant(k),
        m: fc.constant(m),
        secret: fc.uint8Array({ minLength: 1, maxLength: 40 }),
        bad: fc.uniqueArray(fc.integer({ min: 0, max: m - 1 }), { minLength: 0, maxLength: maxBad }),
        deltas: fc.array(nonzeroDelta, { minLength: maxBad, maxLength: maxBad }),
        order: fc.shuffledSubarray(
          Array.from({ length: m }, (_, i) => i),
          { minLength: m, maxLength: m },
        ),
      });
    });
    fc.assert(
      fc.property(arb, ({ k, m, secret, bad, deltas, order }) => {
        const shares = split(secret, m, k);
        const corrupted = corrupt(shares, bad, deltas);
        const shuffled = order.map((i) => corrupted[i]);
        const result = combineRobust(shuffled, k);
        expect(result.secret).toEqual(secret);
        expect(result.dropped).toEqual(bad.map((i) => i + 1).sort((a, b) => a - b));
        expect(combine(shuffled, k)).toEqual(secret);
        expect(verifyConsistent(shuffled, k)).toBe(bad.length === 0);
      }),
      { numRuns: 200 },
    );
  });

  it("1..m-k corrupted shares are always detected by verifyConsistent", () => {
    const arb = fc.record({ k: fc.integer({ min: 1, max: 5 }), extra: fc.integer({ min: 1, max: 5 }) }).chain(({ k, extra }) =>
      fc.record({
        k: fc.constant(k),
        m: fc.constant(k + extra),
        secret: fc.uint8Array({ minLength: 1, maxLength: 20 }),
        bad: fc.uniqueArray(fc.integer({ min: 0, max: k + extra - 1 }), { minLength: 1, maxLength: extra }),
        deltas: fc.array(nonzeroDelta, { minLength: extra, maxLength: extra }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ k, m, secret, bad, deltas }) => {
        const corrupted = corrupt(split(secret, m, k), bad, deltas);
        expect(verifyConsistent(corrupted, k)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("with ⌊(m-k)/2⌋ < bad ≤ ⌈(m-k)/2⌉ (any corruption): always the typed error, never a wrong secret", () => {
    // m-k odd, so ⌈(m-k)/2⌉ = ⌊(m-k)/2⌋ + 1 bad shares; no polynomial can reach m-⌊(m-k)/2⌋ agreements
    const arb = fc.record({ k: fc.integer({ min: 1, max: 4 }), half: fc.integer({ min: 0, max: 2 }) }).chain(({ k, half }) => {
      const m = k + 2 * half + 1;
      return fc.record({
        k: fc.constant(k),
        m: fc.constant(m),
        secret: fc.uint8Array({ minLength: 1, maxLength: 16 }),
        bad: fc.uniqueArray(fc.integer({ min: 0, max: m - 1 }), { minLength: half + 1, maxLength: half + 1 }),
        deltas: fc.array(nonzeroDelta, { minLength: half + 1, maxLength: half + 1 }),
      });
    });
    fc.assert(
      fc.property(arb, ({ k, secret, bad, deltas, m }) => {
        const corrupted = corrupt(split(secret, m, k), bad, deltas);
        expect(() => combineRobust(corrupted, k)).toThrow(SssInconsistentSharesError);
      }),
      { numRuns: 150 },
    );
  });

  it("more random corruption (L >= 8): the typed error or the right secret, never a silent wrong secret", () => {
    const arb = fc.record({ k: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 2, max: 5 }) }).chain(({ k, extra }) => {
      const m = k + extra;
      return fc.record({
        k: fc.constant(k),
        m: fc.constant(m),
        secret: fc.uint8Array({ minLength: 8, maxLength: 32 }),
        bad: fc.uniqueArray(fc.integer({ min: 0, max: m - 1 }), { minLength: Math.floor(extra / 2) + 1, maxLength: m }),
        noise: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: m, maxLength: m }),
      });
    });
    fc.assert(
      fc.property(arb, ({ k, m, secret, bad, noise }) => {
        const shares = split(secret, m, k);
        // random (non-adversarial) replacement of the bad shares' bytes
        const corrupted = shares.map((s, i) => (bad.includes(i) ? { x: s.x, y: noise[i].slice(0, s.y.length) } : s));
        try {
          const { secret: got, dropped } = combineRobust(corrupted, k);
          expect(got).toEqual(secret);
          // the dropped x's are shares that really were replaced by wrong bytes
          for (const x of dropped) expect(bad).toContain(x - 1);
        } catch (e) {
          expect(e).toBeInstanceOf(SssInconsistentSharesError);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("beyond ⌈(m-k)/2⌉ bad shares, adversarially chosen shares CAN forge a secret (documents the bound)", () => {
    // m = 5, k = 3: ⌊(m-k)/2⌋ = 1. Two bad shares on another polynomial through 2 good ones win 4 of 5.
    const secret = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const shares = split(secret, 5, 3);
    const forged = new Uint8Array(8).fill(0xee);
    const q = [shares[0], shares[1], { x: 99, y: forged }]; // degree-2 polynomial q with q(99) = forged
    const [b4, b5] = extendShares(q, [4, 5]);
    const attacked = [shares[0], shares[1], shares[2], b4, b5];
    const qSecret = interpolateAt(q, 0);
    expect(qSecret).not.toEqual(secret);
    const result = combineRobust(attacked, 3);
    expect(result).toEqual({ secret: qSecret, dropped: [3] });
    expect(verifyConsistent(attacked, 3)).toBe(false); // still detected as inconsistent
  });
});
