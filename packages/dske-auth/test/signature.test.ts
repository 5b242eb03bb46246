import { randomUUID } from "node:crypto";
import { formatSignatureHeader, parseSignatureHeader, SignatureError, SignatureHeaderError } from "../src/index";

const u1 = "9ad7f620-5a0c-4979-8a2d-66142e06fd79";
const u2 = "cda527e9-5ca7-40d6-a842-0b606597611c";
const tag32 = Buffer.from("V12fwNZiooqE1x0beAdQ4fo2YXnOCTPbUgqG38eUQc4=", "base64");

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SignatureHeaderError);
    expect(e).toBeInstanceOf(SignatureError);
    return (e as SignatureError).code;
  }
  throw new Error("expected a throw");
}

describe("DSKE-Signature header codec", () => {
  test("parses the developer guide's example (';' separator)", () => {
    const v = `${u1}:0:20,${u2}:0:12;V12fwNZiooqE1x0beAdQ4fo2YXnOCTPbUgqG38eUQc4=`;
    const p = parseSignatureHeader(v, { scheme: "hmac-sha256" });
    expect(p.allocation.fragments).toEqual([
      { blockUuid: u1, start: 0, size: 20 },
      { blockUuid: u2, start: 0, size: 12 },
    ]);
    expect(p.allocationString).toBe(`${u1}:0:20,${u2}:0:12`);
    expect(Buffer.from(p.tag).equals(tag32)).toBe(true);
  });

  test("emits '%' and round-trips", () => {
    const allocation = { fragments: [{ blockUuid: u1, start: 16, size: 16 }] };
    const tag = new Uint8Array(16).map((_, i) => i);
    const h = formatSignatureHeader({ allocation, tag });
    expect(h).toBe(`${u1}:16:16%${Buffer.from(tag).toString("base64")}`);
    const p = parseSignatureHeader(h, { scheme: "gf128" });
    expect(p.allocation).toEqual(allocation);
    expect([...p.tag]).toEqual([...tag]);
  });

  test("typed errors", () => {
    const a = `${u1}:0:32`;
    const t = tag32.toString("base64");
    expect(codeOf(() => parseSignatureHeader(undefined))).toBe("missing_signature");
    expect(codeOf(() => parseSignatureHeader(""))).toBe("missing_signature");
    expect(codeOf(() => parseSignatureHeader(["x", "y"]))).toBe("malformed_signature");
    expect(codeOf(() => parseSignatureHeader(`${a}${t}`))).toBe("malformed_signature");
    expect(codeOf(() => parseSignatureHeader(`${a}%${t}%`))).toBe("malformed_signature");
    expect(codeOf(() => parseSignatureHeader(`${a};${t}%x`))).toBe("malformed_signature");
    expect(codeOf(() => parseSignatureHeader(`%${t}`))).toBe("bad_allocation");
    expect(codeOf(() => parseSignatureHeader(`nonsense%${t}`))).toBe("bad_allocation");
    expect(codeOf(() => parseSignatureHeader(`${u1}:-1:32%${t}`))).toBe("bad_allocation");
    expect(codeOf(() => parseSignatureHeader(`${u1}:0:0%${t}`))).toBe("bad_allocation");
    expect(codeOf(() => parseSignatureHeader(`${u1}:01:32%${t}`))).toBe("bad_allocation");
    // strict base64
    expect(codeOf(() => parseSignatureHeader(`${a}%`))).toBe("bad_base64");
    expect(codeOf(() => parseSignatureHeader(`${a}%${t.replace(/=$/, "")}`))).toBe("bad_base64"); // no padding
    expect(codeOf(() => parseSignatureHeader(`${a}%${"-".repeat(43)}=`))).toBe("bad_base64");
    expect(codeOf(() => parseSignatureHeader(`${a}%${Buffer.from(tag32).toString("base64url")}`))).toBe("bad_base64");
    expect(codeOf(() => parseSignatureHeader(`${a}% ${t}`))).toBe("bad_base64");
    expect(codeOf(() => parseSignatureHeader(`${a}%AB==`))).toBe("bad_base64"); // non-canonical trailing bits
    // tag length per scheme
    expect(codeOf(() => parseSignatureHeader(`${a}%${t}`, { scheme: "gf128" }))).toBe("bad_tag_length");
    expect(codeOf(() => parseSignatureHeader(`${a}%${Buffer.alloc(16).toString("base64")}`, { scheme: "hmac-sha256" }))).toBe(
      "bad_tag_length",
    );
    // fragments
    const many = Array.from({ length: 17 }, () => `${randomUUID()}:0:1`).join(",");
    expect(codeOf(() => parseSignatureHeader(`${many}%${t}`))).toBe("too_many_fragments");
    expect(codeOf(() => parseSignatureHeader(`${a},${u2}:0:1%${t}`, { maxFragments: 1 }))).toBe("too_many_fragments");
    expect(codeOf(() => parseSignatureHeader(`${"x".repeat(9000)}%${t}`))).toBe("malformed_signature");
  });
});
