import fc from "fast-check";
import { decodeParts, encodedWordCount, encodeParts, gf128Scheme } from "../src/index";

describe("encodeParts: unambiguous word encoding", () => {
  test("layout: padded parts then lengths and count, count last", () => {
    const w = encodeParts([new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(17).fill(9)]);
    // 1 + 0 + 2 data words, ceil((3+1)/4) = 1 length word
    expect(w.length).toBe(4 * 16);
    expect(encodedWordCount([3, 0, 17])).toBe(4);
    const dv = new DataView(w.buffer);
    expect([dv.getUint32(48, true), dv.getUint32(52, true), dv.getUint32(56, true), dv.getUint32(60, true)]).toEqual([3, 0, 17, 3]);
    expect([...w.subarray(0, 4)]).toEqual([1, 2, 3, 0]);
  });

  test("round trip (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 70 }), { minLength: 1, maxLength: 9 }), (parts) => {
        const decoded = decodeParts(encodeParts(parts));
        expect(decoded.map((p) => Buffer.from(p).toString("hex"))).toEqual(parts.map((p) => Buffer.from(p).toString("hex")));
      }),
    );
  });

  test("appending zero bytes or a zero part changes the encoding and the gf128 tag", () => {
    const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const a = [new Uint8Array([5, 6, 7])];
    const b = [new Uint8Array([5, 6, 7, 0])];
    const c = [new Uint8Array([5, 6, 7]), new Uint8Array(0)];
    const ta = Buffer.from(gf128Scheme.sign(key, a)).toString("hex");
    expect(Buffer.from(gf128Scheme.sign(key, b)).toString("hex")).not.toBe(ta);
    expect(Buffer.from(gf128Scheme.sign(key, c)).toString("hex")).not.toBe(ta);
  });

  test("the last word is never zero", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const w = encodeParts(parts);
        expect(w.subarray(w.length - 16).some((x) => x !== 0)).toBe(true);
      }),
    );
  });

  test("no parts is an error", () => {
    expect(() => encodeParts([])).toThrow(RangeError);
  });
});
