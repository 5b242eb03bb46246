import { xor, xorPad } from "../src/index";

describe("one-time pad", () => {
  test("xor of equal lengths, and its inverse", () => {
    const a = Uint8Array.from([1, 2, 3, 250]);
    const b = Uint8Array.from([255, 2, 0, 5]);
    const c = xor(a, b);
    expect([...c]).toEqual([254, 0, 3, 255]);
    expect(xor(c, b)).toEqual(a);
    expect(() => xor(a, b.subarray(1))).toThrow(/length mismatch 4 != 3/);
  });

  test("xorPad cuts consecutive pads from one allocation's bytes, into a new array or in place", () => {
    const pad = Uint8Array.from([1, 2, 3, 4, 5]);
    const first = Uint8Array.from([0, 0]);
    const second = Uint8Array.from([7, 7, 7]);
    expect([...xorPad(first, pad, 0)]).toEqual([1, 2]);
    expect(first).toEqual(Uint8Array.from([0, 0]));
    expect(xorPad(second, pad, 2, second)).toBe(second);
    expect([...second]).toEqual([4, 3, 2]);
    expect(() => xorPad(second, pad, 3)).toThrow(RangeError);
    expect(() => xorPad(second, pad, 0, new Uint8Array(2))).toThrow(RangeError);
  });
});
