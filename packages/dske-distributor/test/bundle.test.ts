import { randomBytes } from "node:crypto";
import {
  BundleError,
  MAX_BUNDLE_BLOCKS,
  MAX_HEADER_BYTES,
  newChainKey,
  openBundle,
  peekBundleHeader,
  sealBundle,
  type SealBundleInput,
} from "../src/index.js";
import {
  ISSUED_AT,
  blockData,
  codeOf,
  fixSha,
  flipBit,
  headerWith,
  must,
  payloadFor,
  rawBundle,
  sealChain,
  someBlocks,
  uuidFor,
} from "./helpers.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const headerLengthOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, false);

describe("round trip", () => {
  test("a chain of three bundles opens in order, each with the key from the one before", () => {
    const chain = sealChain(3);
    let chainKey: Uint8Array | undefined;
    for (const link of chain) {
      const opened = openBundle(link.bytes, {
        clientName: "curtis",
        hubName: "hank",
        expectedSeq: link.seq,
        ...(chainKey ? { chainKey } : {}),
      });
      expect(opened.header).toMatchObject({
        v: 1,
        hub_name: "hank",
        client_name: "curtis",
        seq: link.seq,
        issued_at: ISSUED_AT,
        auth_scheme: "gf128",
      });
      expect(opened.header.blocks).toEqual(
        link.blocks.map((b) => ({ block_uuid: b.block_uuid, pool_owner: b.pool_owner, size: b.data.length, key_prefix: b.key_prefix })),
      );
      expect(opened.blocks).toEqual(
        link.blocks.map((b) => ({ block_uuid: b.block_uuid, pool_owner: b.pool_owner, key_prefix: b.key_prefix, data: b.data })),
      );
      expect(opened.blocks.map((b) => b.pool_owner)).toEqual(["client", "hub", "client"]);
      expect(hex(opened.nextChainKey)).toBe(hex(link.nextChainKey));
      chainKey = opened.nextChainKey;
    }
  });

  test("the first bundle carries the enrollment secret and an all-zero tag", () => {
    const secret = "ab".repeat(32);
    const bytes = sealBundle({
      hub_name: "hank",
      client_name: "curtis",
      seq: 1,
      auth_scheme: "hmac-sha256",
      enrollment_secret: secret,
      blocks: someBlocks(),
      nextChainKey: newChainKey(randomBytes),
    });
    expect(hex(bytes.subarray(bytes.length - 16))).toBe("00".repeat(16));
    const opened = openBundle(bytes, { clientName: "curtis", expectedSeq: 1 });
    expect(opened.header.enrollment_secret).toBe(secret);
    expect(opened.header.auth_scheme).toBe("hmac-sha256");
    expect(new Date(opened.header.issued_at).toISOString()).toBe(opened.header.issued_at); // default: now
  });

  test("layout: magic, u32 BE header length, header JSON, payload, SHA-256, tag", () => {
    const [, link] = sealChain(2);
    const { bytes } = link;
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("DSKEPSRD");
    const h = headerLengthOf(bytes);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + h))) as { blocks: { size: number }[] };
    const psrd = header.blocks.reduce((s, b) => s + b.size, 0);
    expect(bytes.length).toBe(12 + h + psrd + 32 + 32 + 16);
    const payload = bytes.subarray(12 + h, 12 + h + psrd + 32);
    expect(hex(payload.subarray(0, 300))).toBe(hex(link.blocks[0].data));
    expect(hex(payload.subarray(psrd))).toBe(hex(link.nextChainKey));
  });

  test("opened blocks and the next chain key are private copies; the caller's chain key is left alone", () => {
    const [first, second] = sealChain(2);
    const original = Uint8Array.from(second.bytes);
    const key = Uint8Array.from(first.nextChainKey);
    const opened = openBundle(second.bytes, { clientName: "curtis", expectedSeq: 2, chainKey: key });
    opened.blocks[0].data.fill(0);
    opened.nextChainKey.fill(0);
    expect(hex(second.bytes)).toBe(hex(original));
    expect(hex(key)).toBe(hex(first.nextChainKey));
    second.bytes.fill(0);
    const again = openBundle(original, { clientName: "curtis", expectedSeq: 2, chainKey: key });
    expect(hex(again.blocks[1].data)).toBe(hex(second.blocks[1].data));
  });

  test("block UUIDs are sealed in lower case", () => {
    const blocks = someBlocks().map((b) => ({ ...b, block_uuid: b.block_uuid.toUpperCase() }));
    const bytes = sealBundle({
      hub_name: "h",
      client_name: "c",
      seq: 1,
      auth_scheme: "gf128",
      blocks,
      nextChainKey: newChainKey(randomBytes),
    });
    expect(peekBundleHeader(bytes).blocks.map((b) => b.block_uuid)).toEqual(someBlocks().map((b) => b.block_uuid));
  });
});

describe("tamper", () => {
  const [, second] = sealChain(2);
  const bytes = second.bytes;
  const h = headerLengthOf(bytes);
  const chainKey = must(second.chainKey, "the chain key of bundle 2");
  const open = (b: Uint8Array) => () => openBundle(b, { clientName: "curtis", hubName: "hank", expectedSeq: 2, chainKey });

  test("the intact bundle opens", () => {
    expect(open(bytes)().blocks).toHaveLength(3);
  });

  test.each([
    ["magic", 3 * 8],
    ["header", (12 + 20) * 8 + 1],
    ["payload (block bytes)", (12 + h + 100) * 8 + 5],
    ["payload (next chain key)", (bytes.length - 48 - 10) * 8],
    ["SHA-256", (bytes.length - 40) * 8 + 7],
  ])("a flipped bit in the %s is caught by the SHA-256 (corrupt)", (_where, bit) => {
    expect(codeOf(open(flipBit(bytes, bit)))).toBe("corrupt");
  });

  test("a flipped bit in the tag is refused by the tag (bad_tag)", () => {
    expect(codeOf(open(flipBit(bytes, (bytes.length - 3) * 8 + 2)))).toBe("bad_tag");
  });

  test("an attacker who also fixes the SHA-256 is still refused by the tag (seq ≥ 2)", () => {
    const headerText = new TextDecoder().decode(bytes.subarray(12, 12 + h));
    // issued_at "2026-…": '6' (0x36) → '7' (0x37) is a one-bit change that keeps the header valid.
    const yearDigit = 12 + headerText.indexOf(ISSUED_AT) + 3;
    const forgedHeader = fixSha(flipBit(bytes, yearDigit * 8));
    expect(peekBundleHeader(forgedHeader).issued_at).toBe("2027-12-03T10:00:00.000Z");
    expect(codeOf(open(forgedHeader))).toBe("bad_tag");
    expect(codeOf(open(fixSha(flipBit(bytes, (12 + h + 7) * 8 + 3))))).toBe("bad_tag"); // PSRD byte
    expect(codeOf(open(fixSha(flipBit(bytes, (bytes.length - 48 - 1) * 8))))).toBe("bad_tag"); // next chain key
  });

  test("seq 1 is trusted physically: a copy altered with a fixed SHA-256 is not detectable, a non-zero tag is", () => {
    const [first] = sealChain(1);
    const hh = headerLengthOf(first.bytes);
    const altered = fixSha(flipBit(first.bytes, (12 + hh + 5) * 8));
    expect(openBundle(altered, { clientName: "curtis", expectedSeq: 1 }).blocks[0].data[5]).not.toBe(first.blocks[0].data[5]);
    expect(codeOf(() => openBundle(flipBit(first.bytes, (first.bytes.length - 1) * 8), { clientName: "curtis", expectedSeq: 1 }))).toBe(
      "bad_tag",
    );
  });

  test("bytes appended after the end are refused (corrupt)", () => {
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(codeOf(open(longer))).toBe("corrupt");
    expect(codeOf(open(fixSha(longer)))).toBe("corrupt");
  });

  test("not a bundle at all", () => {
    expect(codeOf(open(new TextEncoder().encode("hello, this is not a bundle at all, just text...".repeat(3))))).toBe("corrupt");
    expect(codeOf(open(new Uint8Array(0)))).toBe("truncated");
  });
});

describe("truncated", () => {
  test("every cut point of a bundle is reported as truncated, with what to do", () => {
    const [, second] = sealChain(2);
    const { bytes } = second;
    const chainKey = must(second.chainKey, "the chain key of bundle 2");
    for (let cut = 0; cut < bytes.length; cut++) {
      let err: unknown;
      try {
        openBundle(bytes.subarray(0, cut), { clientName: "curtis", expectedSeq: 2, chainKey });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BundleError);
      expect({ cut, code: (err as BundleError).code }).toEqual({ cut, code: "truncated" });
      expect((err as BundleError).message).toMatch(/truncated.*copy the whole file again/);
    }
  });

  test("truncated also when the copy is a fresh Uint8Array at an odd offset", () => {
    const [first] = sealChain(1);
    const buf = new Uint8Array(first.bytes.length + 3);
    buf.set(first.bytes, 3);
    expect(openBundle(buf.subarray(3), { clientName: "curtis", expectedSeq: 1 }).blocks).toHaveLength(3);
    expect(codeOf(() => openBundle(buf.subarray(3, buf.length - 1), { clientName: "curtis", expectedSeq: 1 }))).toBe("truncated");
  });
});

describe("who and when", () => {
  const chain = sealChain(4);
  const k = (seq: number): Uint8Array => chain[seq - 2].nextChainKey; // key that tags bundle `seq`

  test("wrong client", () => {
    const e = (() => {
      try {
        openBundle(chain[1].bytes, { clientName: "carol", expectedSeq: 2, chainKey: k(2) });
      } catch (x) {
        return x as BundleError;
      }
      throw new Error("not refused");
    })();
    expect(e.code).toBe("wrong_client");
    expect(e.message).toBe("bundle seq 2 from hub hank is for client curtis, not carol: deliver it to curtis");
  });

  test("wrong hub (when the receiver names the hub)", () => {
    expect(codeOf(() => openBundle(chain[1].bytes, { clientName: "curtis", hubName: "helen", expectedSeq: 2, chainKey: k(2) }))).toBe(
      "wrong_hub",
    );
  });

  test("replayed: a seq already installed, and a second seq 1", () => {
    expect(codeOf(() => openBundle(chain[1].bytes, { clientName: "curtis", expectedSeq: 3, chainKey: k(3) }))).toBe("replayed");
    let msg = "";
    try {
      openBundle(chain[0].bytes, { clientName: "curtis", expectedSeq: 3, chainKey: k(3) });
    } catch (e) {
      expect((e as BundleError).code).toBe("replayed");
      msg = (e as BundleError).message;
    }
    expect(msg).toMatch(/bundle seq 1 from hub hank is a first bundle, but the chain with hub hank already exists \(next expected seq 3\)/);
  });

  test("out of order: says which seq to install first", () => {
    const one = (() => {
      try {
        openBundle(chain[2].bytes, { clientName: "curtis", expectedSeq: 2, chainKey: k(2) });
      } catch (e) {
        return e as BundleError;
      }
      throw new Error("not refused");
    })();
    expect(one.code).toBe("out_of_order");
    expect(one.message).toBe("bundle seq 3 from hub hank is out of order: install seq 2 first");
    expect(() => openBundle(chain[3].bytes, { clientName: "curtis", expectedSeq: 2, chainKey: k(2) })).toThrow(
      "bundle seq 4 from hub hank is out of order: install seq 2..3 first",
    );
    expect(codeOf(() => openBundle(chain[1].bytes, { clientName: "curtis", expectedSeq: 1 }))).toBe("out_of_order");
  });

  test("wrong chain key: random, or the key of another link", () => {
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "curtis", expectedSeq: 3, chainKey: newChainKey(randomBytes) }))).toBe(
      "bad_tag",
    );
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "curtis", expectedSeq: 3, chainKey: k(2) }))).toBe("bad_tag");
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "curtis", expectedSeq: 3, chainKey: k(4) }))).toBe("bad_tag");
  });

  test("a bundle of another chain (same hub and client names, other keys) is refused by the tag", () => {
    const other = sealChain(2);
    expect(codeOf(() => openBundle(other[1].bytes, { clientName: "curtis", expectedSeq: 2, chainKey: k(2) }))).toBe("bad_tag");
  });

  test("check order: structure before client, client before hub, hub before seq, seq before tag", () => {
    const damaged = flipBit(chain[2].bytes, 200 * 8);
    expect(codeOf(() => openBundle(damaged, { clientName: "carol", hubName: "helen", expectedSeq: 9, chainKey: k(2) }))).toBe("corrupt");
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "carol", hubName: "helen", expectedSeq: 9, chainKey: k(2) }))).toBe(
      "wrong_client",
    );
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "curtis", hubName: "helen", expectedSeq: 9, chainKey: k(2) }))).toBe(
      "wrong_hub",
    );
    expect(codeOf(() => openBundle(chain[2].bytes, { clientName: "curtis", hubName: "hank", expectedSeq: 9, chainKey: k(2) }))).toBe(
      "replayed",
    );
  });

  test("option misuse is a programming error (TypeError/RangeError), not a BundleError", () => {
    expect(() => openBundle(chain[0].bytes, { clientName: "curtis", expectedSeq: 1, chainKey: k(2) })).toThrow(TypeError);
    expect(() => openBundle(chain[1].bytes, { clientName: "curtis", expectedSeq: 2 })).toThrow(TypeError);
    expect(() => openBundle(chain[1].bytes, { clientName: "curtis", expectedSeq: 0 })).toThrow(RangeError);
  });

  test("peekBundleHeader routes without a key: validated header, tag not checked", () => {
    expect(peekBundleHeader(chain[2].bytes)).toMatchObject({ hub_name: "hank", client_name: "curtis", seq: 3 });
    const badTag = flipBit(chain[2].bytes, (chain[2].bytes.length - 1) * 8);
    expect(peekBundleHeader(badTag).seq).toBe(3);
    expect(codeOf(() => peekBundleHeader(flipBit(chain[2].bytes, 100 * 8)))).toBe("corrupt");
  });
});

describe("header schema (with a correct SHA-256 and tag, so only the schema can refuse)", () => {
  const key = newChainKey(randomBytes);
  const open =
    (header: unknown, sizes = [40], seq = 2) =>
    () =>
      openBundle(rawBundle(header, payloadFor(sizes), seq === 1 ? undefined : key), {
        clientName: "curtis",
        expectedSeq: seq,
        ...(seq === 1 ? {} : { chainKey: key }),
      });

  test("the raw builder makes acceptable bundles", () => {
    expect(open(headerWith(2, [40]))().blocks[0].data).toHaveLength(40);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      "enrollment_secret on seq 2",
      { enrollment_secret: "ab".repeat(32) },
      /enrollment_secret: enrollment_secret is allowed only in the first bundle/,
    ],
    ["a short enrollment_secret", { seq: 1, enrollment_secret: "ab" }, /enrollment_secret/],
    ["an unknown field", { extra: true }, /header: Unrecognized key/],
    ["a bad hub name", { hub_name: "hank/../x" }, /hub_name: hub_name must be 1\.\.64 characters/],
    ["a long client name", { client_name: "c".repeat(65) }, /client_name/],
    ["seq 0", { seq: 0 }, /seq/],
    ["a fractional seq", { seq: 2.5 }, /seq/],
    ["an unknown auth scheme", { auth_scheme: "md5" }, /auth_scheme/],
    ["a bad issued_at", { issued_at: "yesterday" }, /issued_at/],
    ["no blocks", { blocks: [] }, /blocks/],
  ])("%s is corrupt", (_name, change, message) => {
    const header = { ...headerWith(2, [40]), ...change };
    const seq = (header as { seq: unknown }).seq === 1 ? 1 : 2;
    let err: unknown;
    try {
      open(header, [40], seq)();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe("corrupt");
    expect((err as BundleError).message).toMatch(message);
    expect((err as BundleError).message).toMatch(/ask the hub's operator to issue a new bundle/);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ["key_prefix = size", { key_prefix: 40 }, /blocks\.0\.key_prefix: key_prefix must be less than size/],
    ["key_prefix > size", { key_prefix: 41 }, /key_prefix/],
    ["a negative key_prefix", { key_prefix: -1 }, /key_prefix/],
    ["an upper-case UUID", { block_uuid: uuidFor(0xabc).toUpperCase() }, /block_uuid must be a canonical lower-case UUID/],
    ["an unknown pool owner", { pool_owner: "both" }, /pool_owner/],
    ["an extra block field", { note: "x" }, /Unrecognized key/],
  ])("a block with %s is corrupt", (_name, change, message) => {
    const header = headerWith(2, [40]);
    (header.blocks as Record<string, unknown>[])[0] = { ...(header.blocks as Record<string, unknown>[])[0], ...change };
    expect(codeOf(open(header))).toBe("corrupt");
    expect(open(header)).toThrow(message);
  });

  test("duplicate block UUIDs are corrupt", () => {
    const header = headerWith(2, [10, 10]);
    (header.blocks as { block_uuid: string }[])[1].block_uuid = uuidFor(1000);
    expect(open(header, [10, 10])).toThrow(/appears twice/);
  });

  test("format version: another number is unsupported, a missing one corrupt", () => {
    expect(codeOf(open({ ...headerWith(2, [40]), v: 2 }))).toBe("unsupported");
    expect(open({ ...headerWith(2, [40]), v: 2 })).toThrow(/version 2 is not supported \(this build reads version 1\)/);
    const noVersion = headerWith(2, [40]);
    delete noVersion.v;
    expect(codeOf(open(noVersion))).toBe("corrupt");
  });

  test("a header that is not UTF-8 JSON is corrupt", () => {
    expect(codeOf(open(new TextEncoder().encode("{not json")))).toBe("corrupt");
    expect(codeOf(open(Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d])))).toBe("corrupt");
    expect(codeOf(open(new TextEncoder().encode("[]")))).toBe("corrupt");
  });

  test("error messages never quote the enrollment secret", () => {
    const secret = "5e".repeat(32);
    const broken = new TextEncoder().encode(`{"v":1,"enrollment_secret":"${secret}",`);
    const misplaced = { ...headerWith(2, [40]), enrollment_secret: secret };
    for (const f of [open(broken, [40], 1), open(misplaced)]) {
      let message = "";
      try {
        f();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/corrupt|invalid/);
      expect(message).not.toContain("5e5e");
    }
  });

  test("limits: header length, block count, PSRD total", () => {
    // Header length field above 1 MiB.
    const big = rawBundle(headerWith(2, [40]), payloadFor([40]), key);
    new DataView(big.buffer).setUint32(8, MAX_HEADER_BYTES + 1, false);
    expect(() => openBundle(big, { clientName: "curtis", expectedSeq: 2, chainKey: key })).toThrow(
      /header length 1048577 is not in 1\.\.1048576/,
    );
    // More than 4096 blocks (the schema refuses before the tag is computed, so no tag is needed).
    const sizes = new Array<number>(MAX_BUNDLE_BLOCKS + 1).fill(1);
    const many = rawBundle(headerWith(2, sizes), payloadFor(sizes));
    expect(() => openBundle(many, { clientName: "curtis", expectedSeq: 2, chainKey: key })).toThrow(
      /blocks: Too big: expected array to have <=4096 items/,
    );
    // A header claiming more than 1 GiB of PSRD (the file cannot match it: the schema says why).
    expect(open(headerWith(2, [600 * 1024 * 1024, 600 * 1024 * 1024]), [40])).toThrow(/more than the limit of 1073741824 \(1 GiB\)/);
  });
});

/** A copy of the input without its chainKey property. */
function withoutChainKey(i: SealBundleInput): SealBundleInput {
  const copy = { ...i };
  delete copy.chainKey;
  return copy;
}

describe("sealBundle input checks", () => {
  const base = (): SealBundleInput => ({
    hub_name: "hank",
    client_name: "curtis",
    seq: 2,
    auth_scheme: "gf128",
    blocks: someBlocks(),
    chainKey: newChainKey(randomBytes),
    nextChainKey: newChainKey(randomBytes),
  });

  test.each<[string, (i: SealBundleInput) => SealBundleInput, RegExp]>([
    ["seq 1 with a chain key", (i) => ({ ...i, seq: 1 }), /seq 1 has no predecessor/],
    ["seq 2 without a chain key", withoutChainKey, /needs the 32-byte chain key of bundle 1/],
    ["a short next chain key", (i) => ({ ...i, nextChainKey: new Uint8Array(16) }), /nextChainKey must be 32 bytes/],
    ["the chain key reused as next", (i) => ({ ...i, nextChainKey: must(i.chainKey, "chainKey") }), /must be fresh/],
    ["enrollment_secret on seq 2", (i) => ({ ...i, enrollment_secret: "ab".repeat(32) }), /allowed only in the first bundle/],
    ["key_prefix = size", (i) => ({ ...i, blocks: [{ ...i.blocks[0], key_prefix: 300 }] }), /key_prefix must be less than size/],
    ["no blocks", (i) => ({ ...i, blocks: [] }), /blocks must be a non-empty array/],
    ["an empty block", (i) => ({ ...i, blocks: [{ ...i.blocks[0], key_prefix: 0, data: new Uint8Array(0) }] }), /blocks\.0\.size/],
    ["a bad client name", (i) => ({ ...i, client_name: "" }), /client_name/],
    ["a duplicate block", (i) => ({ ...i, blocks: [i.blocks[0], i.blocks[0]] }), /appears twice/],
    [
      "too many blocks",
      (i) => ({
        ...i,
        blocks: Array.from({ length: MAX_BUNDLE_BLOCKS + 1 }, (_, n) => ({
          block_uuid: uuidFor(n),
          pool_owner: "client" as const,
          key_prefix: 0,
          data: blockData(n, 1),
        })),
      }),
      /blocks/,
    ],
  ])("%s is refused", (_name, change, message) => {
    expect(() => sealBundle(change(base()))).toThrow(RangeError);
    expect(() => sealBundle(change(base()))).toThrow(message);
  });

  test("4096 blocks are fine", () => {
    // seq 1 (no tag): the 4096-block header is 370 KB, and gf128 runs far slower under jest's transform than in node.
    const blocks = Array.from({ length: MAX_BUNDLE_BLOCKS }, (_, n) => ({
      block_uuid: uuidFor(n),
      pool_owner: n % 2 ? ("hub" as const) : ("client" as const),
      key_prefix: 0,
      data: blockData(n, 2),
    }));
    const input = withoutChainKey({ ...base(), seq: 1, blocks });
    const opened = openBundle(sealBundle(input), { clientName: "curtis", expectedSeq: 1 });
    expect(opened.blocks).toHaveLength(MAX_BUNDLE_BLOCKS);
    expect(opened.blocks[4095].pool_owner).toBe("hub");
  });
});
