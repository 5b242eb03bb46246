import {
  combine,
  combineRobust,
  extendShares,
  interpolateAt,
  split,
  SssError,
  SssInconsistentSharesError,
  verifyConsistent,
  type Share,
} from "../src/index";

const secret = new Uint8Array([9, 8, 7, 6, 5]);
const good = (): Share[] => split(secret, 5, 3);

/** Asserts fn throws an SssError with this code and a message matching `message`. */
function expectCode(fn: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SssError);
  expect((thrown as SssError).code).toBe(code);
  expect((thrown as SssError).message).toMatch(message);
}

// These tests pass deliberately mistyped values, as untyped JS callers could; `never` is
// assignable to every parameter type, so no `any` is needed.
const untyped = (v: unknown): never => v as never;

describe("split: bad input", () => {
  it.each([0, -1, 1.5, NaN, untyped("3")])("k = %p → INVALID_THRESHOLD", (k) => {
    expectCode(() => split(secret, 5, k), "INVALID_THRESHOLD", /threshold k/);
  });
  it("k > n → INVALID_THRESHOLD", () => expectCode(() => split(secret, 3, 4), "INVALID_THRESHOLD", /1\.\.n \(n = 3\)/));
  it.each([0, 256, 1000, 2.5, untyped(null)])("n = %p → INVALID_SHARE_COUNT", (n) => {
    expectCode(() => split(secret, n, 1), "INVALID_SHARE_COUNT", /share count n/);
  });
  it("empty secret → EMPTY_SECRET", () => expectCode(() => split(new Uint8Array(0), 3, 2), "EMPTY_SECRET", /empty/));
  it.each([untyped("abc"), untyped([1, 2, 3]), untyped(new Uint16Array(3)), untyped(undefined)])("secret %p → INVALID_TYPE", (s) =>
    expectCode(() => split(s, 3, 2), "INVALID_TYPE", /Uint8Array/),
  );
  it("random returning the wrong length or type → INVALID_RANDOM (and a short buffer is zeroed)", () => {
    const short = new Uint8Array([1, 2, 3]);
    expectCode(() => split(secret, 3, 2, () => short), "INVALID_RANDOM", /must return a Uint8Array of 5 bytes, got 3 bytes/);
    expect(short).toEqual(new Uint8Array(3));
    expectCode(() => split(secret, 3, 2, () => untyped([1, 2, 3, 4, 5])), "INVALID_RANDOM", /got object/);
    expectCode(() => split(secret, 3, 2, untyped(42)), "INVALID_TYPE", /random must be a function/);
  });
});

describe("combine / interpolate / robust: bad shares", () => {
  const entryPoints: Array<[string, (s: Share[]) => unknown]> = [
    ["combine", (s) => combine(s)],
    ["combine(k)", (s) => combine(s, 2)],
    ["combineRobust", (s) => combineRobust(s, 2)],
    ["verifyConsistent", (s) => verifyConsistent(s, 2)],
    ["interpolateAt", (s) => interpolateAt(s, 0)],
    ["extendShares", (s) => extendShares(s, [9])],
  ];

  it.each(entryPoints)("%s rejects every kind of bad share list", (_name, fn) => {
    const s = good();
    expectCode(() => fn([]), "NOT_ENOUGH_SHARES", /no shares/);
    expectCode(() => fn(untyped("shares")), "INVALID_TYPE", /array/);
    expectCode(() => fn(untyped([null])), "INVALID_TYPE", /shares\[0\] must be an object/);
    expectCode(() => fn([s[0], { x: s[0].x, y: s[1].y }]), "DUPLICATE_X", /duplicate share x = 1/);
    expectCode(() => fn([s[0], { x: 0, y: s[1].y }]), "INVALID_X", /x = 0 is the secret/);
    expectCode(() => fn([s[0], { x: 256, y: s[1].y }]), "INVALID_X", /1\.\.255, got 256/);
    expectCode(() => fn([s[0], { x: 1.5, y: s[1].y }]), "INVALID_X", /got 1\.5/);
    expectCode(() => fn([s[0], { x: untyped("2"), y: s[1].y }]), "INVALID_X", /shares\[1\]\.x/);
    expectCode(() => fn([s[0], { x: 2, y: s[1].y.subarray(1) }]), "LENGTH_MISMATCH", /different lengths/);
    expectCode(() => fn([s[0], { x: 2, y: untyped([1, 2, 3, 4, 5]) }]), "INVALID_TYPE", /shares\[1\]\.y must be a Uint8Array/);
    expectCode(() => fn([{ x: 1, y: new Uint8Array(0) }]), "EMPTY_SECRET", /empty/);
    expectCode(() => fn(new Array<Share>(256).fill(s[0])), "INVALID_SHARE_COUNT", /at most 255/);
  });

  it("fewer than k shares → NOT_ENOUGH_SHARES (never a wrong secret)", () => {
    const s = good().slice(0, 2);
    expectCode(() => combine(s, 3), "NOT_ENOUGH_SHARES", /need at least k = 3 shares, got 2/);
    expectCode(() => combineRobust(s, 3), "NOT_ENOUGH_SHARES", /got 2/);
    expectCode(() => verifyConsistent(s, 3), "NOT_ENOUGH_SHARES", /got 2/);
  });

  it.each([0, -2, 256, 2.5])("threshold %p → INVALID_THRESHOLD", (k) => {
    expectCode(() => combine(good(), k), "INVALID_THRESHOLD", /threshold k/);
    expectCode(() => combineRobust(good(), k), "INVALID_THRESHOLD", /threshold k/);
  });

  it("interpolateAt and extendShares check their x's", () => {
    expectCode(() => interpolateAt(good(), 256), "INVALID_X", /0\.\.255/);
    expectCode(() => interpolateAt(good(), -1), "INVALID_X", /0\.\.255/);
    expectCode(() => extendShares(good(), [0]), "INVALID_X", /xs\[0\]/);
    expectCode(() => extendShares(good(), [7, 7]), "DUPLICATE_X", /duplicate x = 7/);
    expectCode(() => extendShares(good(), untyped(7)), "INVALID_TYPE", /xs must be an array/);
  });

  it("uncorrectable corruption → SssInconsistentSharesError with the bound in the message", () => {
    const s = good();
    const bad = [s[0], { x: 2, y: s[1].y.map((b) => b ^ 1) }, s[2], { x: 4, y: s[3].y.map((b) => b ^ 2) }, s[4]];
    let thrown: unknown;
    try {
      combineRobust(bad, 3);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SssInconsistentSharesError);
    expect(thrown).toBeInstanceOf(SssError);
    const err = thrown as SssInconsistentSharesError;
    expect(err.code).toBe("INCONSISTENT_SHARES");
    expect([err.shareCount, err.threshold, err.correctable]).toEqual([5, 3, 1]);
    expect(err.message).toMatch(/at most 1 bad share\(s\) can be corrected with m=5, k=3/);
    // m = k + 1: inconsistency is detected but nothing can be corrected
    expect(() => combine([s[0], s[1], { x: 3, y: s[2].y.map((b) => b ^ 4) }, s[3]], 3)).toThrow(SssInconsistentSharesError);
  });
});
