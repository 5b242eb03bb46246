import { combine, split } from "../src/index";

describe("split", () => {
  it("draws randomness in ONE call of (k-1)*L bytes, consumes (zeroes) it, and leaves the secret intact", () => {
    const secret = new Uint8Array(37).map((_, i) => i * 7 + 1);
    const original = secret.slice();
    const handed: Uint8Array[] = [];
    const random = (n: number): Uint8Array => {
      const b = new Uint8Array(n).map((_, i) => (i * 31 + 5) & 0xff);
      handed.push(b);
      return b;
    };
    const shares = split(secret, 6, 4, random);
    expect(handed.map((b) => b.length)).toEqual([3 * 37]);
    expect(handed[0].every((b) => b === 0)).toBe(true); // coefficients wiped after use
    expect(secret).toEqual(original);
    expect(combine(shares.slice(1, 5))).toEqual(secret);
  });

  it("k = 1 needs no randomness: every share equals the secret", () => {
    let called = 0;
    const shares = split(new Uint8Array([1, 2, 3]), 3, 1, (n) => {
      called++;
      return new Uint8Array(n);
    });
    expect(called).toBe(0);
    expect(shares).toEqual([1, 2, 3].map((x) => ({ x, y: new Uint8Array([1, 2, 3]) })));
  });

  it("works on unaligned views and returns exact-length shares that own their memory", () => {
    const backing = new Uint8Array(100).map((_, i) => i);
    const secret = backing.subarray(3, 3 + 13); // byteOffset 3, length 13
    const shares = split(secret, 4, 2);
    for (const s of shares) {
      expect(s.y.length).toBe(13);
      expect(s.y.byteOffset).toBe(0);
      expect(s.y.buffer.byteLength).toBe(13);
    }
    expect(combine([shares[3], shares[1]])).toEqual(secret);
  });

  it("shares with zero coefficients are the secret itself (f constant) — the random source is used verbatim", () => {
    const secret = new Uint8Array([0xaa, 0x55]);
    const shares = split(secret, 3, 3, (n) => new Uint8Array(n));
    for (const s of shares) expect(s.y).toEqual(secret);
  });

  it("default random gives different shares for the same secret", () => {
    const secret = new Uint8Array(32).fill(1);
    const a = split(secret, 3, 2);
    const b = split(secret, 3, 2);
    expect(a[0].y).not.toEqual(b[0].y);
    expect(combine(a.slice(0, 2))).toEqual(combine(b.slice(1)));
  });
});
