/**
 * key_source psrd ("PSRD used directly as shares", dske-crypto.md §2(c)): the draft's vectors for
 * the interpolation step, key reconstruction from any k shares, a valid check word, the PSRD
 * shares' encryptions being zero (except the adjusted share's check word), no crypto.randomBytes
 * on the key path, and the master-side pad bookkeeping.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { tmpdir } from "node:os";
import { keyCheckWord } from "../src/key-check";
import { combine, interpolateAt } from "@dske/sss";
import { xor, type Allocation } from "@dske/psrd";
import { kSubsets, makeSplitKey, openSecret, padLength, padLengthFromKeyId, reconstructKey, secretLength, WORD } from "../src/key";
import { parseClientArgs } from "../src/bin/standalone";
import { usedBytes, waitFor } from "./harness";
import { defined } from "./defined";
import { useNetwork } from "./security/net";
import {
  lagrangeAtZero,
  makePsrdSplitKeys,
  secretFromPsrdShares,
  splitKeyFromPsrd,
  type PadAllocation,
  type PadSource,
} from "../src/key-source";

interface Vector {
  k: number;
  n: number;
  L: number;
  psrd_shares: { x: number; y_hex: string }[];
  secret_hex: string;
  derived_shares: { x: number; y_hex: string }[];
}
const VECTORS = (
  JSON.parse(readFileSync(path.join(__dirname, "fixtures", "psrd-as-shares-vectors.json"), "utf8")) as {
    draft_psrd_as_shares_gf8: Vector[];
  }
).draft_psrd_as_shares_gf8;

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Deterministic pseudo-PSRD (xorshift), so these tests draw nothing from the CSPRNG. */
function psrd(seed: number, n: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

describe("draft vectors (draft_psrd_as_shares_gf8)", () => {
  it("has vectors", () => expect(VECTORS.length).toBeGreaterThanOrEqual(5));
  it.each(VECTORS.map((v, i) => [i, v] as const))("vector %i: the secret and the derived shares from the PSRD shares", (_i, v) => {
    const shares = v.psrd_shares.map((s) => ({ x: s.x, y: hex(s.y_hex) }));
    expect(shares).toHaveLength(v.k);
    expect(toHex(secretFromPsrdShares(shares))).toBe(v.secret_hex);
    for (const d of v.derived_shares) expect(`${d.x}:${toHex(interpolateAt(shares, d.x))}`).toBe(`${d.x}:${d.y_hex}`);
  });
});

describe("lagrangeAtZero", () => {
  it("weights that reconstruct f(0) = Σ λ_j f(x_j) (GF(2^8))", () => {
    const xs = [1, 3, 4];
    const ys = [0x53, 0xca, 0x11];
    const want = interpolateAt(
      xs.map((x, i) => ({ x, y: Uint8Array.of(ys[i]) })),
      0,
    )[0];
    // Σ λ_j y_j over GF(2^8), computed with the sss scalar helpers
    const { gf256 } = jest.requireActual<typeof import("@dske/sss")>("@dske/sss");
    let got = 0;
    xs.forEach((_, j) => (got = gf256.add(got, gf256.mul(lagrangeAtZero(xs, j), ys[j]))));
    expect(got).toBe(want);
  });
});

describe.each([
  [128, 5, 3],
  [256, 5, 3],
  [256, 5, 2],
  [512, 7, 4],
  [40, 3, 3],
  [8, 5, 1],
])("splitKeyFromPsrd: %i-bit key, n = %i, k = %i", (bits, n, k) => {
  const size = secretLength(bits);
  const r = padLength(bits);
  const chosenXs = Array.from({ length: k }, (_, i) => i + 1);
  const pads = chosenXs.map((x) => ({ x, pad: psrd(bits * 31 + x * 7 + k, size) }));
  const made = splitKeyFromPsrd(bits, n, pads);

  it("n shares x = 1..n; the k PSRD shares unchanged except the adjusted one's check word", () => {
    expect(made.shares.map((s) => s.x)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(made.key).toHaveLength(bits / 8);
    expect(made.adjustedX).toBe(k);
    expect(padLengthFromKeyId(made.keyId)).toBe(r);
    for (const p of pads) {
      const enc = xor(made.shares[p.x - 1].y, p.pad); // what goes on the wire for this hub
      const body = enc.subarray(0, size - WORD);
      expect(body.every((b) => b === 0)).toBe(true);
      if (p.x !== made.adjustedX) expect(enc.every((b) => b === 0)).toBe(true);
    }
  });

  it("the key falls out of the PSRD: f(0) of the PSRD shares gives the key words", () => {
    const S0 = interpolateAt(
      pads.map((p) => ({ x: p.x, y: p.pad })),
      0,
    );
    expect(toHex(made.key)).toBe(toHex(S0.subarray(0, bits / 8)));
  });

  it("any k shares reconstruct S = Y || keyCheckWord(Y) and the key", () => {
    let subsets = 0;
    for (const idx of kSubsets(n, k)) {
      subsets++;
      const S = combine(idx.map((i) => made.shares[i]));
      const Y = S.subarray(0, S.length - WORD);
      expect(toHex(S.subarray(S.length - WORD))).toBe(toHex(keyCheckWord(Y)));
      expect(toHex(defined(openSecret(S, r)))).toBe(toHex(made.key));
    }
    expect(subsets).toBeGreaterThan(0);
    const rec = reconstructKey(
      made.shares.map((s, i) => ({ ...s, source: `h${i}` })),
      k,
      r,
    );
    expect(rec && toHex(rec.key)).toBe(toHex(made.key));
    expect(defined(rec).bad).toEqual([]);
  });

  it("a wrong share is detected (robust reconstruction names it)", () => {
    if (n - k < 2) {
      expect(n - k).toBeLessThan(2);
      return;
    } // needs 2 spare shares to correct one
    const shares = made.shares.map((s, i) => ({ x: s.x, y: s.y.slice(), source: `h${i}` }));
    shares[0].y[0] ^= 0x5a;
    const rec = reconstructKey(shares, k, r);
    expect(rec && toHex(rec.key)).toBe(toHex(made.key));
    expect(defined(rec).bad).toEqual(["h0"]);
  });
});

describe("no CSPRNG on the key path", () => {
  it("splitKeyFromPsrd never calls crypto.randomBytes (random mode does)", () => {
    // The module object the sources call through (a namespace import would be a copy).
    const nodeCrypto = jest.requireActual<typeof import("node:crypto")>("node:crypto");
    const spy = jest.spyOn(nodeCrypto, "randomBytes");
    try {
      const size = secretLength(256);
      splitKeyFromPsrd(
        256,
        5,
        [1, 2, 3].map((x) => ({ x, pad: psrd(x, size) })),
      );
      expect(spy).not.toHaveBeenCalled();
      makeSplitKey(256, 5, 3); // the spy does see the random source
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it("the key is a function of the pads only: same pads, same key and shares", () => {
    const size = secretLength(256);
    const pads = () => [2, 4, 5].map((x) => ({ x, pad: psrd(100 + x, size) }));
    const a = splitKeyFromPsrd(256, 5, pads());
    const b = splitKeyFromPsrd(256, 5, pads());
    expect(toHex(a.key)).toBe(toHex(b.key));
    expect(a.shares.map((s) => toHex(s.y))).toEqual(b.shares.map((s) => toHex(s.y)));
    expect(a.keyId).not.toBe(b.keyId);
  });

  it("rejects pads of the wrong length and bad x", () => {
    expect(() => splitKeyFromPsrd(256, 5, [{ x: 1, pad: new Uint8Array(10) }])).toThrow(/expected 48/);
    expect(() => splitKeyFromPsrd(256, 5, [{ x: 9, pad: new Uint8Array(48) }])).toThrow(/1\.\.5/);
    expect(() =>
      splitKeyFromPsrd(
        256,
        2,
        [1, 2, 3].map((x) => ({ x, pad: new Uint8Array(48) })),
      ),
    ).toThrow(/need 1\.\.2/);
  });
});

describe("makePsrdSplitKeys (master side)", () => {
  class FakeHub implements PadSource {
    taken: PadAllocation[] = [];
    constructor(
      readonly registered: boolean,
      private readonly seed: number,
      private readonly fail = false,
    ) {}
    allocatePad(size: number): Promise<PadAllocation> {
      if (this.fail) return Promise.reject(new Error("PSRD exhausted"));
      const allocation: Allocation = {
        fragments: [{ blockUuid: `00000000-0000-4000-8000-00000000000${this.seed}`, start: 16 + this.taken.length * size, size }],
      };
      const a = { allocation, data: psrd(this.seed * 1000 + this.taken.length, size) };
      this.taken.push({ allocation, data: a.data.slice() });
      return Promise.resolve(a);
    }
  }

  it("takes |S| bytes from each of the first k registered hubs, per key; their shares encrypt to zero", async () => {
    const hubs = [new FakeHub(true, 1), new FakeHub(false, 2), new FakeHub(true, 3), new FakeHub(true, 4), new FakeHub(true, 5)];
    const { made, pads } = await makePsrdSplitKeys(hubs, 3, 256, 2);
    expect(made).toHaveLength(2);
    expect(hubs.map((h) => h.taken.length)).toEqual([2, 0, 2, 2, 0]);
    for (let i = 0; i < 2; i++) {
      expect([...pads[i].keys()]).toEqual([0, 2, 3]);
      for (const [j, pad] of pads[i]) {
        expect(pad.data).toEqual(hubs[j].taken[i].data);
        const enc = xor(made[i].shares[j].y, pad.data);
        expect(enc.subarray(0, 32).every((b) => b === 0)).toBe(true);
      }
      expect(made[i].adjustedX).toBe(4);
      const S = combine([made[i].shares[1], made[i].shares[4], made[i].shares[0]]);
      expect(toHex(defined(openSecret(S, 0)))).toBe(toHex(made[i].key));
    }
  });

  it("fewer than k registered hubs: an error; a failing pad: an error, nothing reused", async () => {
    await expect(makePsrdSplitKeys([new FakeHub(true, 1), new FakeHub(false, 2), new FakeHub(true, 3)], 3, 256, 1)).rejects.toThrow(
      /needs 3 registered hubs, 2 are/,
    );
    const ok = new FakeHub(true, 1);
    await expect(makePsrdSplitKeys([ok, new FakeHub(true, 2, true), new FakeHub(true, 3)], 3, 256, 1)).rejects.toThrow(/exhausted/);
  });
});

describe("key_source psrd in a network (in process: 5 hubs, 2 clients, k = 3)", () => {
  const net = useNetwork({ client: { keySource: "psrd" } });

  it.each([
    [1, 256],
    [5, 128],
    [2, 4096],
  ])("%i key(s) of %i bits: derived from PSRD; the slave gets the master's keys", async (number, size) => {
    const before = await usedBytes(net.carol.store);
    // What the hubs receive: the encrypted shares (hub name -> base64 values).
    const seen = new Map<string, string[]>();
    const restore = net.hubs.map(({ hub }) => {
      const one = hub.postShare.bind(hub);
      const many = hub.postShares.bind(hub);
      const note = (v: string) => seen.set(hub.name, [...(seen.get(hub.name) ?? []), v]);
      hub.postShare = async (req) => {
        note(req.encrypted_share_value);
        return one(req);
      };
      hub.postShares = async (m, a, items) => {
        for (const it of items) note(it.encrypted_share_value);
        return many(m, a, items);
      };
      return () => {
        hub.postShare = one;
        hub.postShares = many;
      };
    });
    let got;
    try {
      got = await net.carol.etsi("sam").getKeys("sunny", { number, size });
      await waitFor(() => net.hubs.every((h) => (seen.get(h.name) ?? []).length >= number), 20_000, "every hub got its shares");
    } finally {
      restore.forEach((r) => r());
    }
    // The first k = 3 hubs' shares ARE their pads: encrypted, they are zero (the 3rd except its check word).
    const zeroBody = (v: string) =>
      Buffer.from(v, "base64")
        .subarray(0, secretLength(size) - WORD)
        .every((b) => b === 0);
    const allZero = (v: string) => Buffer.from(v, "base64").every((b) => b === 0);
    expect(defined(seen.get("hank")).every(allZero)).toBe(true);
    expect(defined(seen.get("helen")).every(allZero)).toBe(true);
    expect(defined(seen.get("hilary")).every(zeroBody)).toBe(true);
    expect(defined(seen.get("holly")).some(zeroBody)).toBe(false);
    const ids = got.keys.map((k) => k.key_ID);
    await waitFor(
      () => net.hubs.every((h) => ids.every((id) => h.hub.status().shares.some((s) => s.key_id === id))),
      20_000,
      "shares on every hub",
    );
    const back = await net.curtis.etsi("sunny").getKeysWithKeyIds("sam", ids);
    expect(back.keys).toEqual(got.keys);
    expect(new Set(got.keys.map((k) => k.key)).size).toBe(number);
    // Pads: |S| per key and hub, as in random mode (plus MACs); at least n·number·|S| bytes.
    const spent = (await usedBytes(net.carol.store)) - before;
    expect(spent).toBeGreaterThanOrEqual(5 * number * secretLength(size));
  });
});

describe("dske-client --key-source / --auth-schemes", () => {
  const base = ["carol", "--hubs", "http://127.0.0.1:1/hub/h1", "--min-nr-shares", "1", "--state-dir", path.join(tmpdir(), "dske-ks-test")];
  it("defaults: random, gf128 only (no hmac-sha256 fallback)", async () => {
    const c = await parseClientArgs(base);
    expect(c.keySource).toBe("random");
    expect(c.authSchemes).toEqual(["gf128"]);
  });
  it("psrd, and the hmac-sha256 fallback when listed", async () => {
    const c = await parseClientArgs([...base, "--key-source", "psrd", "--auth-schemes", "gf128,hmac-sha256"]);
    expect(c.keySource).toBe("psrd");
    expect(c.authSchemes).toEqual(["gf128", "hmac-sha256"]);
  });
  it("bad values name the option", async () => {
    await expect(parseClientArgs([...base, "--key-source", "urandom"])).rejects.toThrow(/--key-source/);
    await expect(parseClientArgs([...base, "--auth-schemes", "md5"])).rejects.toThrow(/--auth-schemes/);
  });
});
