import { combine, combineRobust, extendShares, interpolateAt, split, verifyConsistent } from "../src/index";
import vectors from "./fixtures/gf8-vectors.json";
import { byX, fixedRandom, hex, unhex } from "./helpers";

describe("gf8_shamir vectors (split with the recorded coefficients)", () => {
  it.each(vectors.gf8_shamir.map((v, i) => ({ ...v, i })))("#$i k=$k n=$n L=$secret_len", (v) => {
    const secret = unhex(v.secret_hex);
    const coeffs = unhex(v.coeff_bytes_hex);
    expect(coeffs.length).toBe((v.k - 1) * v.secret_len);
    const { random, calls } = fixedRandom(coeffs);
    const shares = split(secret, v.n, v.k, random);
    // one random call of (k-1)*L bytes (none when k = 1)
    expect(calls).toEqual(v.k > 1 ? [(v.k - 1) * v.secret_len] : []);
    expect(shares.map((s) => ({ x: s.x, y_hex: hex(s.y) }))).toEqual(v.shares);
    for (const xs of v.combine_subsets_checked) {
      const subset = byX(
        v.shares.map((s) => ({ x: s.x, y: unhex(s.y_hex) })),
        xs,
      );
      expect(hex(combine(subset))).toBe(v.secret_hex);
      expect(hex(combine(subset, v.k))).toBe(v.secret_hex);
    }
    const all = v.shares.map((s) => ({ x: s.x, y: unhex(s.y_hex) }));
    expect(verifyConsistent(all, v.k)).toBe(true);
    expect(combineRobust(all, v.k)).toEqual({ secret: secret, dropped: [] });
  });
});

describe("gf8_interpolate vectors (Lagrange at 0, 255, 254, 7)", () => {
  it.each(vectors.gf8_interpolate.map((v, i) => ({ ...v, i })))("#$i", (v) => {
    const points = v.points.map((p) => ({ x: p.x, y: unhex(p.y_hex) }));
    const entries = Object.entries(v.value_at_x);
    expect(entries.length).toBe(4);
    for (const [x, want] of entries) expect(hex(interpolateAt(points, Number(x)))).toBe(want);
    expect(hex(combine(points))).toBe(v.value_at_x["0"]);
  });
});

describe("draft_psrd_as_shares_gf8 vectors (k PSRD strings as shares at x = 1..k)", () => {
  it.each(vectors.draft_psrd_as_shares_gf8.map((v, i) => ({ ...v, i })))("#$i k=$k n=$n L=$L", (v) => {
    const psrd = v.psrd_shares.map((p) => ({ x: p.x, y: unhex(p.y_hex) }));
    expect(psrd.map((p) => p.x)).toEqual(Array.from({ length: v.k }, (_, i) => i + 1));
    expect(hex(interpolateAt(psrd, 0))).toBe(v.secret_hex);
    const derived = extendShares(
      psrd,
      v.derived_shares.map((d) => d.x),
    );
    expect(derived.map((d) => ({ x: d.x, y_hex: hex(d.y) }))).toEqual(v.derived_shares);
    // the n shares together form a consistent (k, n) sharing of the secret
    const all = [...psrd, ...derived];
    expect(verifyConsistent(all, v.k)).toBe(true);
    expect(hex(combine(all.slice(-v.k)))).toBe(v.secret_hex);
  });
});
