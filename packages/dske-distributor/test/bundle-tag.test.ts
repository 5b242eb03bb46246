import { randomBytes } from "node:crypto";
import { encodeParts, polyHash } from "@dske/auth";
import { bundleTag, newChainKey } from "../src/index.js";

/** The reference: the draft's hash over encodeParts, as the brief of the format says. */
function reference(chainKey: Uint8Array, header: Uint8Array, payload: Uint8Array): string {
  return Buffer.from(polyHash(chainKey.subarray(0, 16), chainKey.subarray(16, 32), encodeParts([header, payload]))).toString("hex");
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("bundleTag = polyHash(c, d, encodeParts([header, payload])), computed in segments", () => {
  test.each([
    [1, 0],
    [1, 1],
    [15, 15],
    [16, 16],
    [17, 17],
    [33, 31],
    [200, 1000],
  ])("header %d bytes, payload %d bytes", (h, p) => {
    const key = newChainKey(randomBytes);
    const header = new Uint8Array(randomBytes(h));
    const payload = new Uint8Array(randomBytes(p));
    expect(hex(bundleTag(key, header, payload))).toBe(reference(key, header, payload));
  });

  // Kept small: gf128 runs much slower under jest's transform than under node (see the bench for speed).
  test("across the 64 KiB segment boundary, from an unaligned view", () => {
    const key = newChainKey(randomBytes);
    const header = new Uint8Array(randomBytes(45));
    const backing = new Uint8Array(randomBytes(65536 + 17 + 3));
    const payload = backing.subarray(3); // byteOffset 3: not 4-byte aligned
    expect(hex(bundleTag(key, header, payload))).toBe(reference(key, header, payload));
    // Exactly one full segment, no partial word.
    expect(hex(bundleTag(key, header, payload.subarray(0, 65536)))).toBe(reference(key, header, payload.subarray(0, 65536)));
  });

  test("the parts are length-bound: moving a byte from header to payload changes the tag", () => {
    const key = newChainKey(randomBytes);
    const all = new Uint8Array(randomBytes(40));
    expect(hex(bundleTag(key, all.subarray(0, 20), all.subarray(20)))).not.toBe(hex(bundleTag(key, all.subarray(0, 21), all.subarray(21))));
    // Zero padding is not ambiguous either: a trailing zero byte is a different message.
    const withZero = new Uint8Array(21);
    withZero.set(all.subarray(20, 40));
    expect(hex(bundleTag(key, all.subarray(0, 20), all.subarray(20, 40)))).not.toBe(hex(bundleTag(key, all.subarray(0, 20), withZero)));
  });

  test("a chain key that is not 32 bytes is refused", () => {
    expect(() => bundleTag(new Uint8Array(16), new Uint8Array(1), new Uint8Array(1))).toThrow(RangeError);
  });
});
