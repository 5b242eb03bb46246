import fc from "fast-check";
import * as reference from "shamir-secret-sharing";
import { combine, combineRobust, split, type Share } from "../src/index";

/** shamir-secret-sharing encodes a share as y bytes followed by one byte x. */
const fromReference = (share: Uint8Array): Share => ({ x: share[share.length - 1], y: share.slice(0, -1) });
const toReference = (share: Share): Uint8Array => {
  const out = new Uint8Array(share.y.length + 1); // plain Uint8Array: the reference rejects Buffer
  out.set(share.y);
  out[share.y.length] = share.x;
  return out;
};

// the reference requires 2 <= k <= n <= 255
const params = fc
  .integer({ min: 2, max: 10 })
  .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 2, max: n }) }))
  .chain(({ n, k }) =>
    fc.record({ n: fc.constant(n), k: fc.constant(k), secret: fc.uint8Array({ minLength: 1, maxLength: 64 }), pick: fc.integer() }),
  );

/** A deterministic k-subset of shares chosen by `pick`. */
function choose<T>(items: T[], k: number, pick: number): T[] {
  const pool = items.slice();
  const out: T[] = [];
  let r = Math.abs(pick);
  for (let i = 0; i < k; i++) {
    out.push(pool.splice(r % pool.length, 1)[0]);
    r = Math.floor(r / 3) + 7 * i;
  }
  return out;
}

describe("differential against shamir-secret-sharing (same field 0x11B)", () => {
  it("shares made by the reference (random x's) are combined by ours", async () => {
    await fc.assert(
      fc.asyncProperty(params, async ({ n, k, secret, pick }) => {
        const theirs = (await reference.split(secret, n, k)).map(fromReference);
        expect(new Set(theirs.map((s) => s.x)).size).toBe(n);
        expect(combine(choose(theirs, k, pick))).toEqual(secret);
        if (n > k) expect(combineRobust(theirs, k)).toEqual({ secret, dropped: [] });
      }),
      { numRuns: 100 },
    );
  });

  it("shares made by ours are combined by the reference", async () => {
    await fc.assert(
      fc.asyncProperty(params, async ({ n, k, secret, pick }) => {
        const ours = split(secret, n, k).map(toReference);
        expect(await reference.combine(choose(ours, k, pick))).toEqual(secret);
      }),
      { numRuns: 100 },
    );
  });

  it("both interpolate the same value from the same arbitrary points", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.uint8Array({ minLength: 5, maxLength: 5 }), { minLength: 8, maxLength: 8 }),
        async (xs, ys) => {
          const shares = xs.map((x, i) => ({ x, y: ys[i] }));
          expect(combine(shares)).toEqual(await reference.combine(shares.map(toReference)));
        },
      ),
      { numRuns: 100 },
    );
  });
});
