import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  getScheme,
  gf128Scheme,
  hmacSha256Scheme,
  requestParts,
  responseParts,
  blockKeyPrefix,
  type SignedRequest,
  type SignedResponse,
} from "../src/index";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("hmac-sha256 (reference layout HMAC(key, query ‖ body))", () => {
  const key = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  const cases: Array<[string, string, string]> = [
    ["empty", "", ""],
    ["get with query", "client_name=sae-1&key_id=abc", ""],
    ["post json", "", JSON.stringify({ master_client_name: "alice", share_index: 2 })],
    ["both", "client_name=bob", '{"x":1}'],
  ];
  test.each(cases)("request case %s matches node:crypto createHmac", (_n, query, body) => {
    const parts = requestParts("hmac-sha256", { method: "POST", path: "/p", query, body: utf8(body), allocation: "a" });
    const expected = createHmac("sha256", key)
      .update(Buffer.concat([Buffer.from(query), Buffer.from(body)]))
      .digest();
    const tag = hmacSha256Scheme.sign(key, parts);
    expect(Buffer.from(tag).equals(expected)).toBe(true);
    expect(hmacSha256Scheme.verify(key, parts, tag)).toBe(true);
  });
  test("response tag is HMAC(key, body)", () => {
    const body = utf8('{"hub_name":"h1"}');
    const tag = hmacSha256Scheme.sign(
      key,
      responseParts("hmac-sha256", { status: 200, requestTag: new Uint8Array(32), body, allocation: "x" }),
    );
    expect(Buffer.from(tag).equals(createHmac("sha256", key).update(body).digest())).toBe(true);
  });
  test("fixed reference value", () => {
    // HMAC-SHA256(key = 0x00..0x1f, "a=1" ‖ "{}") computed independently with createHmac.
    const k = new Uint8Array(32).map((_, i) => i);
    const tag = hmacSha256Scheme.sign(
      k,
      requestParts("hmac-sha256", { method: "GET", path: "/", query: "a=1", body: utf8("{}"), allocation: "" }),
    );
    expect(Buffer.from(tag).toString("hex")).toBe(createHmac("sha256", Buffer.from(k)).update("a=1{}").digest("hex"));
  });
  test("wrong key length and wrong tag are rejected", () => {
    expect(() => hmacSha256Scheme.sign(new Uint8Array(16), [])).toThrow(RangeError);
    expect(hmacSha256Scheme.verify(key, [utf8("x")], new Uint8Array(31))).toBe(false);
  });
});

describe("scheme registry", () => {
  test("parameters", () => {
    expect(getScheme("gf128")).toBe(gf128Scheme);
    expect(blockKeyPrefix("gf128")).toBe(16);
    expect(blockKeyPrefix("hmac-sha256")).toBe(0);
    expect(gf128Scheme.allocationLength).toBe(16);
    expect(gf128Scheme.tagLength).toBe(16);
    expect(hmacSha256Scheme.allocationLength).toBe(32);
  });
});

const ascii = fc.string({ minLength: 0, maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "a"));
const reqArb = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE"),
  path: ascii.map((s) => `/${s}`),
  query: ascii,
  body: fc.uint8Array({ maxLength: 200 }),
  allocation: ascii.map((s) => `u:${s}`),
});
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

function flipString(s: string, bitIndex: number): string {
  // flip one of the 7 low bits of one character (stays ASCII, always a different string)
  if (s.length === 0) return "\x01";
  const i = bitIndex % s.length;
  const b = (bitIndex >> 8) % 7;
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << b)) + s.slice(i + 1);
}
function flipBytes(u: Uint8Array, bitIndex: number): Uint8Array {
  if (u.length === 0) return new Uint8Array([0]);
  const v = new Uint8Array(u);
  v[(bitIndex >> 3) % v.length] ^= 1 << (bitIndex & 7);
  return v;
}

describe("gf128 scheme: every single-bit change rejects (property)", () => {
  test("request: method, path, query, body, allocation (header), tag", () => {
    fc.assert(
      fc.property(
        key32,
        reqArb,
        fc.constantFrom("method", "path", "query", "body", "allocation", "tag"),
        fc.nat(1 << 20),
        (key, req, field, bit) => {
          const r: SignedRequest = req;
          const tag = gf128Scheme.sign(key, requestParts("gf128", r));
          expect(gf128Scheme.verify(key, requestParts("gf128", r), tag)).toBe(true);
          const m: SignedRequest = { ...r };
          let t = tag;
          if (field === "body") m.body = flipBytes(r.body, bit);
          else if (field === "tag") t = flipBytes(tag, bit % 128);
          else m[field] = flipString(r[field], bit);
          expect(gf128Scheme.verify(key, requestParts("gf128", m), t)).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });

  test("response: status, request tag, body, allocation (header), tag", () => {
    const resArb = fc.record({
      status: fc.integer({ min: 100, max: 599 }),
      requestTag: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      body: fc.uint8Array({ maxLength: 200 }),
      allocation: ascii.map((s) => `u:${s}`),
    });
    fc.assert(
      fc.property(
        key32,
        resArb,
        fc.constantFrom("status", "requestTag", "body", "allocation", "tag"),
        fc.nat(1 << 20),
        (key, res, field, bit) => {
          const r: SignedResponse = res;
          const tag = gf128Scheme.sign(key, responseParts("gf128", r));
          expect(gf128Scheme.verify(key, responseParts("gf128", r), tag)).toBe(true);
          const m: SignedResponse = { ...r };
          let t = tag;
          if (field === "status") m.status = r.status ^ (1 << (bit % 9)) || 1;
          else if (field === "requestTag") m.requestTag = flipBytes(r.requestTag, bit % 128);
          else if (field === "body") m.body = flipBytes(r.body, bit);
          else if (field === "allocation") m.allocation = flipString(r.allocation, bit);
          else t = flipBytes(tag, bit % 128);
          expect(gf128Scheme.verify(key, responseParts("gf128", m), t)).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });

  test("a request tag never verifies as a response tag", () => {
    const key = new Uint8Array(32).fill(3);
    const req: SignedRequest = { method: "GET", path: "/", query: "", body: new Uint8Array(0), allocation: "a" };
    const tag = gf128Scheme.sign(key, requestParts("gf128", req));
    expect(
      gf128Scheme.verify(
        key,
        responseParts("gf128", { status: 200, requestTag: new Uint8Array(16), body: new Uint8Array(0), allocation: "a" }),
        tag,
      ),
    ).toBe(false);
  });
});
