/**
 * The reference implementation's shares (src/reference.ts). The vectors in
 * fixtures/reference-shamir.json are a verbatim copy of shared/vectors/reference-shamir.json (made
 * by running the reference implementation's own common/shamir.py with a deterministic random
 * source; its `source` field says how), copied so that the package tests are self-contained.
 *
 * The scheme checks below use their own scalar GF(2^8) arithmetic and node:crypto's HMAC, not
 * this package's code.
 */
import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  combine,
  combineReference,
  combineRobust,
  interpolateAt,
  referenceToStandard,
  splitReference,
  SssError,
  type Share,
} from "../src/index";
import vectors from "./fixtures/reference-shamir.json";
import { fixedRandom, hex, subsets, unhex } from "./helpers";

// ---------------------------------------------------------------- independent GF(2^8) (0x11B)

function mul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    if (b & (1 << i)) r ^= a;
    a = a & 0x80 ? ((a << 1) ^ 0x11b) & 0xff : a << 1;
  }
  return r;
}
function inv(a: number): number {
  for (let b = 1; b < 256; b++) if (mul(a, b) === 1) return b;
  throw new Error("no inverse of 0");
}
/** f(at) by Lagrange over the given points, byte-wise. */
function lagrange(points: readonly Share[], at: number): Uint8Array {
  const out = new Uint8Array(points[0].y.length);
  points.forEach((p, i) => {
    let c = 1;
    points.forEach((q, j) => {
      if (j !== i) c = mul(c, mul(at ^ q.x, inv(p.x ^ q.x)));
    });
    for (let b = 0; b < out.length; b++) out[b] ^= mul(c, p.y[b]);
  });
  return out;
}
/** The scheme, checked independently: f(255) = secret and f(254) = HMAC(rp, secret)[:4] || rp. */
function obeysScheme(shares: readonly Share[], k: number, secret: Uint8Array): boolean {
  const basis = shares.slice(0, k);
  if (hex(lagrange(basis, 255)) !== hex(secret)) return false;
  const d = lagrange(basis, 254);
  const rp = d.subarray(4);
  const mac = createHmac("sha256", rp).update(secret).digest().subarray(0, 4);
  if (hex(d.subarray(0, 4)) !== hex(mac)) return false;
  // every share lies on that polynomial of degree k - 1
  return shares.every((s) => hex(lagrange(basis, s.x)) === hex(s.y));
}

const sharesOf = (c: { shares: { x: number; y_hex: string }[] }): Share[] => c.shares.map((s) => ({ x: s.x, y: unhex(s.y_hex) }));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SssError) return e.code;
    throw e;
  }
  return "no error";
}

// ---------------------------------------------------------------- the vectors

describe("reference-shamir vectors", () => {
  const cases = vectors.cases.map((c, i) => ({ ...c, i, L: c.secret_hex.length / 2 }));

  it("cover the shapes we need (k from 2 to 5, n up to 16, 4 to 64 bytes)", () => {
    expect(cases.length).toBe(7);
    expect(new Set(cases.map((c) => c.k))).toEqual(new Set([2, 3, 4, 5]));
    expect(Math.max(...cases.map((c) => c.n))).toBe(16);
    expect(new Set(cases.map((c) => c.L))).toEqual(new Set([4, 16, 24, 32, 64]));
  });

  it.each(cases)("#$i k=$k n=$n L=$L: every k-subset, every (k+1)-subset and all shares combine", (c) => {
    const shares = sharesOf(c);
    expect(shares.map((s) => s.x)).toEqual(Array.from({ length: c.n }, (_, i) => i));
    expect(obeysScheme(shares, c.k, unhex(c.secret_hex))).toBe(true);
    const sizes = [c.k, ...(c.k < c.n ? [c.k + 1] : [])];
    let combined = 0;
    for (const size of sizes) {
      for (const subset of subsets(shares, size)) {
        expect(hex(combineReference(subset))).toBe(c.secret_hex);
        expect(hex(combineReference([...subset].reverse(), c.k))).toBe(c.secret_hex);
        combined++;
      }
    }
    expect(hex(combineReference(shares, c.k))).toBe(c.secret_hex);
    const choose = (n: number, k: number): number => (k === 0 ? 1 : (choose(n - 1, k - 1) * n) / k);
    expect(combined).toBe(sizes.reduce((sum, size) => sum + choose(c.n, size), 0));
  });

  it.each(cases.filter((c) => c.k > 2))("#$i k=$k: k-1 shares never give the secret (digest fails)", (c) => {
    for (const subset of subsets(sharesOf(c), c.k - 1)) {
      expect(codeOf(() => combineReference(subset))).toBe("DIGEST_MISMATCH");
    }
    expect(codeOf(() => combineReference(sharesOf(c).slice(0, c.k - 1), c.k))).toBe("NOT_ENOUGH_SHARES");
  });

  it.each(cases)("#$i k=$k n=$n: splitReference with the reference's random draws reproduces every share", (c) => {
    const shares = sharesOf(c);
    const secret = unhex(c.secret_hex);
    // The reference draws the shares x = 0..k-3, then random_part (the tail of f(254)).
    const randomPart = lagrange(shares.slice(0, c.k), 254).subarray(4);
    const draws = new Uint8Array([...shares.slice(0, c.k - 2).flatMap((s) => [...s.y]), ...randomPart]);
    const { random, calls } = fixedRandom(draws);
    const made = splitReference(secret, c.n, c.k, random);
    expect(calls).toEqual(draws.length > 0 ? [draws.length] : []);
    expect(made.map((s) => ({ x: s.x, y_hex: hex(s.y) }))).toEqual(c.shares);
    expect(hex(secret)).toBe(c.secret_hex); // the caller's secret is left alone
  });

  it("rejects the tampered case (and any single flipped bit of it)", () => {
    const t = vectors.tampered;
    const shares = sharesOf({ shares: t.shares_used });
    expect(t.expect).toMatch(/digest check fails/);
    expect(codeOf(() => combineReference(shares))).toBe("DIGEST_MISMATCH");
    expect(codeOf(() => combineReference(shares, t.k))).toBe("DIGEST_MISMATCH");
    expect(() => combineReference(shares)).toThrow(/does not verify/);
    // the untampered shares of case 0 are the same but for one bit of share 0
    const genuine = sharesOf(vectors.cases[0]).slice(0, 3);
    expect(hex(combineReference(genuine))).toBe(vectors.cases[0].secret_hex);
    for (let bit = 0; bit < 8 * genuine[1].y.length; bit += 7) {
      const flipped = genuine.map((s) => ({ x: s.x, y: s.y.slice() }));
      flipped[1].y[bit >> 3] ^= 1 << (bit & 7);
      expect(codeOf(() => combineReference(flipped))).toBe("DIGEST_MISMATCH");
    }
  });
});

// ---------------------------------------------------------------- round trips

/** (n, k) with 1 <= k <= n <= 16 (the reference's maximum) and a secret of 4..300 bytes (both packing paths). */
const sharing = fc
  .integer({ min: 1, max: 16 })
  .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 1, max: n }) }))
  .chain(({ n, k }) =>
    fc.record({
      n: fc.constant(n),
      k: fc.constant(k),
      secret: fc.uint8Array({ minLength: 4, maxLength: 300 }),
      pick: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
      extra: fc.nat({ max: 16 }),
    }),
  );

describe("splitReference → combineReference", () => {
  it("recovers the secret from random subsets of k..n shares, and the shares obey the scheme", () => {
    fc.assert(
      fc.property(sharing, ({ n, k, secret, pick, extra }) => {
        const shares = splitReference(secret, n, k);
        expect(shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(shares.every((s) => s.y.length === secret.length)).toBe(true);
        // a random subset of size k + extra (at most n), in random order
        const order = shares.map((s, i) => ({ s, key: pick[i] })).sort((a, b) => a.key - b.key);
        const subset = order.slice(0, Math.min(n, k + extra)).map((o) => o.s);
        if (k === 1) {
          expect(shares.every((s) => hex(s.y) === hex(secret))).toBe(true);
          expect(hex(combineReference(subset, 1))).toBe(hex(secret));
          return;
        }
        expect(obeysScheme(shares, k, secret)).toBe(true);
        expect(hex(combineReference(subset))).toBe(hex(secret));
        expect(hex(combineReference(subset, k))).toBe(hex(secret));
      }),
      { numRuns: 150 },
    );
  });

  it("k = 1: every share is a copy of the secret; combining needs equal shares", () => {
    const secret = unhex("00112233445566");
    const shares = splitReference(secret, 3, 1);
    expect(shares.map((s) => hex(s.y))).toEqual([hex(secret), hex(secret), hex(secret)]);
    shares[0].y[0] ^= 1; // the shares are copies, not views of the secret
    expect(secret[0]).toBe(0x00);
    expect(codeOf(() => combineReference(shares, 1))).toBe("INCONSISTENT_SHARES");
    expect(hex(combineReference(shares.slice(1), 1))).toBe(hex(secret));
  });

  it("calls random once with (k-2)L + L-4 bytes and zeroes what it returned; L = 4, k = 2 draws nothing", () => {
    let returned: Uint8Array | undefined;
    const sizes: number[] = [];
    const shares = splitReference(unhex("0102030405060708090a0b0c0d0e0f10"), 5, 3, (len) => {
      sizes.push(len);
      returned = new Uint8Array(len).fill(0xaa);
      return returned;
    });
    expect(sizes).toEqual([16 + 12]);
    expect(returned?.every((b) => b === 0)).toBe(true);
    expect(shares[0].y.every((b) => b === 0xaa)).toBe(true); // x = 0 is the first drawn share
    const none = splitReference(unhex("deadbeef"), 3, 2, () => {
      throw new Error("must not be called");
    });
    expect(hex(combineReference(none.slice(1)))).toBe("deadbeef");
  });
});

describe("referenceToStandard: the rest of the package on reference shares", () => {
  const c = vectors.cases[1]; // k = 3, n = 5, 32 bytes
  const shares = sharesOf(c);

  it("puts f(255) at 0 and f(254) at 1", () => {
    const std = referenceToStandard(shares);
    expect(std.map((s) => s.x)).toEqual([255, 254, 253, 252, 251]);
    expect(hex(combine(std.slice(2)))).toBe(c.secret_hex);
    expect(hex(interpolateAt(std.slice(0, 3), 1))).toBe(hex(lagrange(shares.slice(0, 3), 254)));
  });

  it("lets combineRobust drop a bad share (its x XOR 255 is the bad share's)", () => {
    const bad = shares.map((s) => ({ x: s.x, y: s.y.slice() }));
    bad[3].y[5] ^= 0x40;
    expect(codeOf(() => combineReference(bad))).toBe("DIGEST_MISMATCH");
    const robust = combineRobust(referenceToStandard(bad), 3);
    expect(hex(robust.secret)).toBe(c.secret_hex);
    expect(robust.dropped.map((x) => x ^ 255)).toEqual([3]);
    expect(hex(combineReference(bad.filter((s) => s.x !== 3)))).toBe(c.secret_hex);
  });
});

describe("bad input never yields a secret", () => {
  const ok = () => sharesOf(vectors.cases[0]);
  // deliberately mistyped values, as untyped JS callers could pass (`never` fits any parameter)
  const untyped = (v: unknown): never => v as never;

  it("splitReference checks its arguments", () => {
    const s = new Uint8Array(16);
    expect(codeOf(() => splitReference(untyped("secret"), 5, 3))).toBe("INVALID_TYPE");
    expect(codeOf(() => splitReference(new Uint8Array(0), 5, 3))).toBe("EMPTY_SECRET");
    expect(codeOf(() => splitReference(new Uint8Array(3), 5, 3))).toBe("SECRET_TOO_SHORT");
    for (const n of [0, 255, 2.5, untyped("5")]) expect(codeOf(() => splitReference(s, n, 1))).toBe("INVALID_SHARE_COUNT");
    for (const k of [0, 6, 1.5, untyped("3")]) expect(codeOf(() => splitReference(s, 5, k))).toBe("INVALID_THRESHOLD");
    expect(codeOf(() => splitReference(s, 5, 3, untyped(7)))).toBe("INVALID_TYPE");
    expect(codeOf(() => splitReference(s, 5, 3, (len) => new Uint8Array(len - 1)))).toBe("INVALID_RANDOM");
    expect(codeOf(() => splitReference(s, 5, 3, () => untyped([1, 2, 3])))).toBe("INVALID_RANDOM");
    expect(splitReference(s, 254, 2).at(-1)?.x).toBe(253);
  });

  it("combineReference checks its shares", () => {
    const s = ok();
    expect(codeOf(() => combineReference([]))).toBe("NOT_ENOUGH_SHARES");
    expect(codeOf(() => combineReference([s[0]]))).toBe("NOT_ENOUGH_SHARES");
    expect(codeOf(() => combineReference(s.slice(0, 2), 3))).toBe("NOT_ENOUGH_SHARES");
    expect(codeOf(() => combineReference(s, 0))).toBe("INVALID_THRESHOLD");
    expect(codeOf(() => combineReference(untyped("shares")))).toBe("INVALID_TYPE");
    expect(codeOf(() => combineReference([s[0], { x: 254, y: s[1].y }]))).toBe("INVALID_X");
    expect(codeOf(() => combineReference([s[0], { x: 255, y: s[1].y }]))).toBe("INVALID_X");
    expect(codeOf(() => combineReference([s[0], { x: -1, y: s[1].y }]))).toBe("INVALID_X");
    expect(codeOf(() => combineReference([s[0], { x: 0, y: s[1].y }]))).toBe("DUPLICATE_X");
    expect(codeOf(() => combineReference([s[0], { x: 1, y: s[1].y.subarray(1) }]))).toBe("LENGTH_MISMATCH");
    const short = [
      { x: 0, y: unhex("010203") },
      { x: 1, y: unhex("040506") },
    ];
    expect(codeOf(() => combineReference(short))).toBe("SECRET_TOO_SHORT");
    expect(codeOf(() => referenceToStandard([{ x: 254, y: s[0].y }]))).toBe("INVALID_X");
  });
});
