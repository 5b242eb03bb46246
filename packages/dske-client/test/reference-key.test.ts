/**
 * The reference share format on the client (src/reference-key.ts): the recognition rule, keys
 * made for reference slaves (checked with the independent test codec), reconstruction with bad
 * shares, and `dske-client --reference-saes`.
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { parseClientArgs } from "../src/bin/standalone";
import type { SourcedShare } from "../src/key";
import {
  MIN_REFERENCE_KEY_BITS,
  expectedShareX,
  makeReferenceSplitKey,
  ourShareLength,
  reconstructReferenceKey,
  shareEncoding,
} from "../src/reference-key";
import { decodeReference, encodeReference } from "./reference-codec";
import { defined } from "./defined";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const sourced = (shares: { x: number; y: Uint8Array }[]): SourcedShare[] => shares.map((s, j) => ({ ...s, source: HUBS[j] }));
const secretOf = (bytes: number) => new Uint8Array(Array.from({ length: bytes }, (_, i) => (i * 37 + 11) & 0xff));

describe("the recognition rule", () => {
  it("our share lengths are the multiples of 16 from 32 on", () => {
    expect([16, 31, 33, 40, 4, 0].map(ourShareLength)).toEqual([false, false, false, false, false, false]);
    expect([32, 48, 64, 528].map(ourShareLength)).toEqual([true, true, true, true]);
  });

  it("reference when the master is a reference SAE, or when every share has a length ours cannot have", () => {
    expect(shareEncoding(true, [48, 48, 48])).toBe("reference");
    expect(shareEncoding(false, [16, 16, 16])).toBe("reference"); // a 128-bit reference key
    expect(shareEncoding(false, [32, 32, 32])).toBe("dske"); // a 256-bit reference key needs the configuration
    // one share of another length (one hub) cannot switch the decoding
    expect(shareEncoding(false, [32, 32, 16])).toBe("dske");
    expect(shareEncoding(false, [16, 16, 32])).toBe("dske");
    expect(shareEncoding(false, [])).toBe("dske");
  });

  it("the share x a hub must give follows the same rule, share by share", () => {
    expect(expectedShareX(2, true, 48)).toBe(2);
    expect(expectedShareX(2, false, 16)).toBe(2);
    expect(expectedShareX(2, false, 48)).toBe(3);
  });
});

describe("makeReferenceSplitKey", () => {
  it.each([128, 256, 32, 40])("%i bits: n shares x = 0..n-1 of the key's length that the independent decoder opens", (bits) => {
    const made = makeReferenceSplitKey(bits, 5, 3);
    expect(made.keyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(made.key).toHaveLength(bits / 8);
    expect(made.shares.map((s) => s.x)).toEqual([0, 1, 2, 3, 4]);
    expect(made.shares.every((s) => s.y.length === bits / 8)).toBe(true);
    expect(hex(defined(decodeReference(made.shares.slice(2))))).toBe(hex(made.key));
    expect(hex(defined(decodeReference([made.shares[4], made.shares[0], made.shares[3]])))).toBe(hex(made.key));
    expect(decodeReference(made.shares.slice(0, 2))).toBeUndefined(); // k - 1 shares
  });

  it("refuses keys shorter than the digest", () => {
    expect(MIN_REFERENCE_KEY_BITS).toBe(32);
    expect(() => makeReferenceSplitKey(24, 5, 3)).toThrow(/at least 32/);
    expect(() => makeReferenceSplitKey(36, 5, 3)).toThrow(RangeError);
  });
});

describe("reconstructReferenceKey", () => {
  const secret = secretOf(16);
  const shares = () => sourced(encodeReference(secret, 5, 3));

  it("k shares: the key, nothing bad", () => {
    const rec = defined(reconstructReferenceKey(shares().slice(1, 4), 3));
    expect(hex(rec.key)).toBe(hex(secret));
    expect(rec).toMatchObject({ bad: [], method: "fast" });
  });

  it("fewer than max(k, 2) shares: nothing; k = 1 still combines and verifies at least two", () => {
    const s = shares();
    expect(reconstructReferenceKey(s.slice(0, 2), 3)).toBeUndefined();
    expect(reconstructReferenceKey(s.slice(0, 1), 1)).toBeUndefined();
    expect(reconstructReferenceKey(s.slice(0, 2), 1)).toBeUndefined(); // two shares of a k = 3 sharing
    // a master with a larger k than ours: all shares together still verify
    const rec = defined(reconstructReferenceKey(s.slice(0, 3), 1));
    expect(hex(rec.key)).toBe(hex(secret));
    expect(rec.bad).toEqual([]);
  });

  it("a wrong share among k: no key (never an unverified one)", () => {
    const s = shares().slice(0, 3);
    s[1].y[0] ^= 1;
    expect(reconstructReferenceKey(s, 3)).toBeUndefined();
  });

  it("one wrong share among five: robust decoding, the bad hub named", () => {
    const s = shares();
    s[0].y[3] ^= 0x80;
    const rec = defined(reconstructReferenceKey(s, 3));
    expect(hex(rec.key)).toBe(hex(secret));
    expect(rec).toMatchObject({ bad: ["hank"], method: "robust" });
  });

  it("two wrong shares among five: the subset search finds the key, both hubs named", () => {
    const s = shares();
    s[1].y[0] ^= 1;
    s[3].y[15] ^= 2;
    const rec = defined(reconstructReferenceKey(s, 3));
    expect(hex(rec.key)).toBe(hex(secret));
    expect(rec.method).toBe("search");
    expect(rec.bad.sort()).toEqual(["helen", "holly"]);
  });

  it("a share of another length is named bad; three wrong of five give nothing", () => {
    const s = shares();
    s[2] = { x: 2, y: new Uint8Array(48), source: "hilary" };
    const rec = defined(reconstructReferenceKey(s, 3));
    expect(hex(rec.key)).toBe(hex(secret));
    expect(rec.bad).toEqual(["hilary"]);
    const t = shares();
    for (const i of [0, 2, 4]) t[i].y[1] ^= 4;
    expect(reconstructReferenceKey(t, 3)).toBeUndefined();
  });
});

describe("dske-client --reference-saes", () => {
  const base = [
    "carol",
    "--hubs",
    "http://127.0.0.1:1/hub/h1",
    "--min-nr-shares",
    "1",
    "--state-dir",
    path.join(tmpdir(), "dske-ref-test"),
  ];

  it("a comma-separated list of SAE IDs, none by default", async () => {
    expect((await parseClientArgs(base)).referenceSaes).toBeUndefined();
    expect((await parseClientArgs([...base, "--reference-saes", "sam,sunny, sam"])).referenceSaes).toEqual(["sam", "sunny"]);
  });

  it("bad values name the option", async () => {
    await expect(parseClientArgs([...base, "--reference-saes", "sam,bad\u0007id"])).rejects.toThrow(/--reference-saes/);
    await expect(parseClientArgs([...base, "--encryptors", "sam", "--reference-saes", "sunny,sam"])).rejects.toThrow(
      /--reference-saes: names an encryptor of this client/,
    );
  });
});
