/** The byte-array equality tester (bytes-equality.ts, loaded for every test file) keeps Jest's semantics. */
import { Buffer } from "node:buffer";

describe("toEqual on byte arrays, with the memcmp tester", () => {
  it("equal bytes are equal, views and offsets included", () => {
    expect(new Uint8Array([1, 2, 3]).subarray(1)).toEqual(new Uint8Array([2, 3]));
    expect({ a: new Uint8Array([9]) }).toEqual({ a: new Uint8Array([9]) });
    const big = new Uint8Array(1 << 20).fill(7);
    expect(big).toEqual(Uint8Array.from(big));
  });

  it("a different byte or length fails, with Jest's diff", () => {
    expect(() => expect(new Uint8Array([1, 2, 3])).toEqual(new Uint8Array([1, 2, 4]))).toThrow(/Uint8Array \[/);
    expect(new Uint8Array([1, 2])).not.toEqual(new Uint8Array([1, 2, 0]));
    expect({ a: new Uint8Array([9]) }).not.toEqual({ a: new Uint8Array([8]) });
  });

  it("a Buffer against a Uint8Array is left to Jest: equal for toEqual, not for toStrictEqual", () => {
    expect(Buffer.from([1, 2])).toEqual(new Uint8Array([1, 2]));
    expect(Buffer.from([1, 2])).not.toStrictEqual(new Uint8Array([1, 2]));
  });
});
