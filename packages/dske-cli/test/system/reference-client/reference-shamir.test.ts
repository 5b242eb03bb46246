/**
 * The reference client emulator's SLIP-39-style Shamir (shamir.ts, gf256.ts) against the shares the
 * reference implementation itself made (fixtures/reference-shamir.json, provenance in
 * fixtures/README.md): every case combines to its secret from every k-subset of its shares, the
 * tampered case is refused, and shares we split combine by the same rules.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { gfDiv, gfInv, gfMul, interpolateAt } from "./gf256";
import { combineShares, DIGEST_X, SECRET_X, ShamirDigestError, splitSecret, type ReferenceShare } from "./shamir";

const ShareSchema = z.object({ x: z.int().min(0).max(253), y_hex: z.string().regex(/^([0-9a-f]{2})+$/) });
const VectorsSchema = z.object({
  scheme: z.string(),
  cases: z.array(z.object({ k: z.int(), n: z.int(), secret_hex: z.string(), shares: z.array(ShareSchema) })).min(1),
  tampered: z.object({ k: z.int(), shares_used: z.array(ShareSchema), expect: z.string() }),
});
const vectors = VectorsSchema.parse(JSON.parse(readFileSync(path.join(__dirname, "../../fixtures/reference-shamir.json"), "utf8")));

const share = (s: z.infer<typeof ShareSchema>): ReferenceShare => ({ x: s.x, y: Buffer.from(s.y_hex, "hex") });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every k-element subset of `items`, in order. */
function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first, ...s]), ...subsets(rest, k)];
}

describe("GF(2^8) mod 0x11B", () => {
  it("multiplies as the AES field ({57}·{83} = {c1}, {53}·{ca} = 1) and inverts every non-zero element", () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    expect(gfMul(0x53, 0xca)).toBe(0x01);
    for (let a = 1; a < 256; a++) {
      expect(gfMul(a, gfInv(a))).toBe(1);
      expect(gfDiv(gfMul(a, 0x1d), 0x1d)).toBe(a);
    }
    expect(() => gfInv(0)).toThrow(RangeError);
  });

  it("interpolation through points gives the points back", () => {
    const points = [
      { x: 0, y: Uint8Array.of(1, 2) },
      { x: 7, y: Uint8Array.of(3, 4) },
      { x: 255, y: Uint8Array.of(5, 6) },
    ];
    for (const p of points) expect(interpolateAt(p.x, points)).toEqual(p.y);
  });
});

describe("the reference's own shares (reference-shamir.json)", () => {
  it("states the scheme this emulator implements", () => {
    expect(vectors.scheme).toContain("0x11B");
    expect(vectors.scheme).toContain("f(255)");
    expect(vectors.scheme).toContain("HMAC-SHA256(key=random_part, msg=secret)[:4]");
    expect(vectors.cases.map((c) => [c.k, c.n])).toContainEqual([2, 16]);
  });

  it.each(vectors.cases.map((c, i) => ({ ...c, i })))(
    "case $i (k = $k of n = $n): every k-subset of the shares combines to the secret",
    ({ k, n, secret_hex, shares }) => {
      expect(shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, x) => x));
      for (const s of shares) expect(s.y_hex).toHaveLength(secret_hex.length); // share length = key length
      const all = subsets(shares.map(share), k);
      expect(all.length).toBeGreaterThan(0);
      for (const subset of all) {
        expect(hex(combineShares(subset, k))).toBe(secret_hex);
        expect(hex(combineShares([...subset].reverse(), k))).toBe(secret_hex);
      }
    },
  );

  it("refuses the tampered case with the reference's digest error", () => {
    const { k, shares_used, expect: what } = vectors.tampered;
    expect(what).toMatch(/digest check fails/);
    expect(() => combineShares(shares_used.map(share), k)).toThrow(ShamirDigestError);
    expect(() => combineShares(shares_used.map(share), k)).toThrow("Invalid digest of the shared secret.");
  });

  it("refuses a single flipped bit in each share of a case", () => {
    const c = vectors.cases[0];
    const good = c.shares.slice(0, c.k).map(share);
    for (let i = 0; i < good.length; i++) {
      for (const byte of [0, good[i].y.length - 1]) {
        const bad = good.map((s) => ({ x: s.x, y: Uint8Array.from(s.y) }));
        bad[i].y[byte] ^= 0x80;
        expect(() => combineShares(bad, c.k)).toThrow(ShamirDigestError);
      }
    }
  });
});

describe("shares this emulator makes", () => {
  it.each([
    [16, 3, 5],
    [32, 3, 5],
    [32, 5, 5],
    [16, 2, 2],
    [4, 2, 3],
    [24, 4, 7],
  ])("%d-byte secret, k = %d of n = %d: indices 0..n-1, key-length shares, every k-subset combines", (length, k, n) => {
    const secret = Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff);
    const shares = splitSecret(secret, k, n);
    expect(shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, x) => x));
    for (const s of shares) expect(s.y).toHaveLength(length);
    for (const subset of subsets(shares, k)) expect(combineShares(subset, k)).toEqual(secret);
    // f(255) is the secret and f(254) carries the digest: interpolating k shares there.
    expect(interpolateAt(SECRET_X, shares.slice(0, k))).toEqual(secret);
    expect(interpolateAt(DIGEST_X, shares.slice(0, k))).toHaveLength(length);
  });

  it("k - 2 shares are the random draws, k = 1 sends the secret itself", () => {
    let draws = 0;
    const random = (size: number) => Uint8Array.from({ length: size }, () => ++draws & 0xff);
    const secret = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const shares = splitSecret(secret, 4, 6, random);
    expect(draws).toBe(12 + 2 * 16); // random_part (12 bytes), then shares 0 and 1
    expect(hex(shares[0].y)).toBe(hex(Uint8Array.from({ length: 16 }, (_, i) => 13 + i)));
    expect(splitSecret(secret, 1, 3).map((s) => hex(s.y))).toEqual([hex(secret), hex(secret), hex(secret)]);
    expect(combineShares([{ x: 2, y: secret }], 1)).toEqual(new Uint8Array(secret));
  });

  it("refuses impossible parameters", () => {
    const secret = new Uint8Array(16);
    expect(() => splitSecret(secret, 4, 3)).toThrow(RangeError);
    expect(() => splitSecret(secret, 0, 3)).toThrow(RangeError);
    expect(() => splitSecret(new Uint8Array(3), 2, 3)).toThrow(RangeError);
    expect(() => combineShares(splitSecret(secret, 3, 5).slice(0, 2), 3)).toThrow(RangeError);
  });
});
