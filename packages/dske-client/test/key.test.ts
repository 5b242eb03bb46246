import { randomBytes } from "node:crypto";
import {
  makeSplitKey,
  newKeyId,
  openSecret,
  padLength,
  padLengthFromKeyId,
  reconstructKey,
  secretLength,
  type SourcedShare,
} from "../src/key";
import { kSubsets } from "../src/key";
import { defined } from "./defined";

const sourced = (shares: { x: number; y: Uint8Array }[]): SourcedShare[] =>
  shares.map((s) => ({ x: s.x, y: Uint8Array.from(s.y), source: `hub${s.x}` }));

describe("key construction", () => {
  test("secret length: |Y| whole words plus a 16-byte check word", () => {
    expect(secretLength(256)).toBe(48);
    expect(secretLength(128)).toBe(32);
    expect(secretLength(40)).toBe(32);
    expect(secretLength(4096)).toBe(528);
    expect(padLength(40)).toBe(11);
    expect(padLength(256)).toBe(0);
  });

  test("key IDs are UUID-shaped and carry the pad length", () => {
    for (const size of [32, 40, 128, 136, 256, 4096]) {
      const id = newKeyId(size);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(padLengthFromKeyId(id)).toBe(padLength(size));
    }
  });

  test.each([32, 40, 128, 256, 1000, 4096])("split and reconstruct a %i-bit key from any k shares", (size) => {
    const made = makeSplitKey(size, 5, 3);
    expect(made.key.length).toBe(size / 8);
    expect(made.shares).toHaveLength(5);
    for (const s of made.shares) expect(s.y.length).toBe(secretLength(size));
    const r = defined(padLengthFromKeyId(made.keyId));
    for (const subset of kSubsets(5, 3)) {
      const rec = reconstructKey(sourced(subset.map((i) => made.shares[i])), 3, r);
      expect(rec).toBeDefined();
      expect(Buffer.from(defined(rec).key).equals(Buffer.from(made.key))).toBe(true);
      expect(defined(rec).bad).toEqual([]);
    }
  });

  test("fewer than k shares: no key", () => {
    const made = makeSplitKey(256, 5, 3);
    expect(reconstructKey(sourced(made.shares.slice(0, 2)), 3, 0)).toBeUndefined();
  });

  test("a wrong share among exactly k is detected: no key, never a wrong one", () => {
    const made = makeSplitKey(256, 5, 3);
    const shares = sourced(made.shares.slice(0, 3));
    shares[1].y[5] ^= 0x40;
    expect(reconstructKey(shares, 3, 0)).toBeUndefined();
  });

  test("one wrong share among 5: right key, the bad hub named", () => {
    const made = makeSplitKey(256, 5, 3);
    for (let bad = 0; bad < 5; bad++) {
      const shares = sourced(made.shares);
      shares[bad].y[0] ^= 1;
      const rec = reconstructKey(shares, 3, 0);
      expect(rec).toBeDefined();
      expect(Buffer.from(defined(rec).key).equals(Buffer.from(made.key))).toBe(true);
      expect(defined(rec).bad).toEqual([`hub${bad + 1}`]);
    }
  });

  test("two wrong shares among 5 (beyond error correction): the check word still finds the key", () => {
    const made = makeSplitKey(128, 5, 3);
    const shares = sourced(made.shares);
    shares[0].y.set(randomBytes(shares[0].y.length));
    shares[3].y[7] ^= 0xff;
    const rec = reconstructKey(shares, 3, 0);
    expect(rec).toBeDefined();
    expect(Buffer.from(defined(rec).key).equals(Buffer.from(made.key))).toBe(true);
    expect(defined(rec).bad.sort()).toEqual(["hub1", "hub4"]);
  });

  test("three wrong shares among 5: no key", () => {
    const made = makeSplitKey(256, 5, 3);
    const shares = sourced(made.shares);
    // independent random corruptions (identical offsets can cancel out in the interpolation)
    for (const i of [0, 2, 4]) shares[i].y.set(randomBytes(shares[i].y.length));
    expect(reconstructKey(shares, 3, 0)).toBeUndefined();
  });

  test("openSecret rejects a wrong check word and bad pad lengths", () => {
    const made = makeSplitKey(256, 3, 3);
    const rec = reconstructKey(sourced(made.shares), 3, 0);
    expect(rec).toBeDefined();
    const S = new Uint8Array(48);
    expect(openSecret(S.subarray(0, 40), 0)).toBeUndefined(); // not whole words
    expect(openSecret(S, 16)).toBeUndefined();
    // all-zero S: check word of zero words is zero, so it verifies; flip t → fails
    expect(openSecret(S, 0)).toBeDefined();
    S[47] = 1;
    expect(openSecret(S, 0)).toBeUndefined();
  });

  test("a key ID with another pad length gives a differently sized key, never a longer secret read", () => {
    const made = makeSplitKey(40, 5, 3); // r = 11
    const rec = reconstructKey(sourced(made.shares.slice(0, 3)), 3, 11);
    expect(defined(rec).key.length).toBe(5);
    expect(Buffer.from(defined(rec).key).equals(Buffer.from(made.key))).toBe(true);
  });
});
