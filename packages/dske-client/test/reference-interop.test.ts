/**
 * Keys between our clients and reference-implementation KMEs (issue 14), in process: 5 real hubs,
 * k = 3. carol hosts sam and sue and is told that sunny is a reference SAE; curtis hosts sunny
 * and susan and is told that sam is one. So sam → sunny keys travel in the reference's share
 * format on both sides, sue → susan keys in ours. The reference side is played by the test:
 * shares made and opened with the independent codec (reference-codec.ts), posted and fetched
 * through the real hubs with our clients' signed share calls (PeerHub.postShares / fetchShares).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { EtsiApiError } from "@dske/protocol";
import { makeSplitKey } from "../src/key";
import { REFERENCE_GUARANTEE } from "../src/reference-key";
import { defined } from "./defined";
import { startClient, startHub, type TestClient, type TestHub } from "./harness";
import { decodeReference, encodeReference, type RawShare } from "./reference-codec";

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
let hubs: TestHub[];
let carol: TestClient;
let curtis: TestClient;

beforeAll(async () => {
  hubs = await Promise.all(HUBS.map((n) => startHub(n)));
  const common = {
    hubs: hubs.map((h) => h.url),
    minNrShares: 3,
    kmeDirectory: { sam: "carol", sue: "carol", sunny: "curtis", susan: "curtis" },
  };
  carol = await startClient({
    name: "carol",
    encryptors: ["sam", "sue"],
    ...common,
    referenceSaes: ["sunny"],
    limits: { minKeySize: 8 },
    stock: { aheadMs: 2000 }, // on, to show that reference pairs bypass it
  });
  curtis = await startClient({ name: "curtis", encryptors: ["sunny", "susan"], ...common, referenceSaes: ["sam"] });
  await carol.client.whenRegistered();
  await curtis.client.whenRegistered();
});

afterAll(async () => {
  for (const c of [carol, curtis] as (TestClient | undefined)[]) await c?.close();
  for (const h of (hubs as TestHub[] | undefined) ?? []) {
    await h.down();
    await h.hub.close();
  }
});

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** The reference master's part: its shares, posted to hub j with share_index j (signed by carol). */
async function postShares(masterSae: string, slaveSae: string, keyId: string, shares: readonly RawShare[]): Promise<void> {
  await Promise.all(
    carol.client.peerHubs.map((h, j) =>
      h.postShares("carol", [
        { keyId, masterSae, slaveSae, additionalSlaves: [], x: shares[j].x, y: shares[j].y, keySize: shares[j].y.length * 8 },
      ]),
    ),
  );
}

/** The reference slave's part: the shares of hubs `js`, as the hubs release them to curtis. */
async function fetchShares(masterSae: string, slaveSae: string, keyId: string, js: number[]): Promise<RawShare[]> {
  return Promise.all(
    js.map(async (j) => {
      const got = await curtis.client.peerHubs[j].fetchShares("curtis", [{ masterSae, slaveSae, keyId }]);
      return defined(got.get(keyId), `share of hub ${HUBS[j]}`);
    }),
  );
}

async function etsiError(p: Promise<unknown>): Promise<EtsiApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof EtsiApiError) return err;
    throw err;
  }
  throw new Error("expected an ETSI error, got keys");
}

describe("our master, reference slave", () => {
  test.each([128, 256])("%i bits: the hubs hold reference shares (x = hub position) that an independent decoder opens", async (size) => {
    const got = await carol.etsi("sam").getKeys("sunny", { size });
    const { key_ID, key } = got.keys[0];
    expect(key_ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const shares = await fetchShares("sam", "sunny", key_ID, [4, 0, 2]);
    expect(shares.map((s) => s.x)).toEqual([4, 0, 2]);
    expect(shares.every((s) => s.y.length === size / 8)).toBe(true); // no pad, no check word
    expect(b64(defined(decodeReference(shares)))).toBe(key);
    expect(decodeReference(shares.slice(0, 2))).toBeUndefined();
    // and curtis, told that sam is a reference SAE, decodes it too
    expect((await curtis.etsi("sunny").getKeysWithKeyIds("sam", [key_ID])).keys).toEqual([{ key_ID, key }]);
  });

  test("several keys per request: each alone, all correct", async () => {
    const got = await carol.etsi("sam").getKeys("sunny", { number: 4, size: 128 });
    const ids = got.keys.map((k) => k.key_ID);
    expect(new Set(ids).size).toBe(4);
    for (const k of got.keys) {
      const shares = await fetchShares("sam", "sunny", k.key_ID, [1, 3, 4]);
      expect(b64(defined(decodeReference(shares)))).toBe(k.key);
    }
  });

  test("no multicast, no keys shorter than the digest, and the key stock is not used", async () => {
    const sam = carol.etsi("sam");
    const multicast = await etsiError(sam.getKeys("sunny", { additional_slave_SAE_IDs: ["susan"] }));
    expect(multicast.status).toBe(400);
    expect(multicast.message).toMatch(/reference-implementation KMEs, which have no multicast/);
    const other = await etsiError(carol.etsi("sue").getKeys("susan", { additional_slave_SAE_IDs: ["sunny"] }));
    expect(other.message).toMatch(/sunny are hosted by reference-implementation KMEs/);
    const short = await etsiError(sam.getKeys("sunny", { size: 24 }));
    expect(short.status).toBe(400);
    expect(short.message).toMatch(/at least 32 bits/);

    const misses = () => {
      const keys = carol.client.mgmtStatus().keys as { stock_misses: { cold: number; empty: number }; stocked: number };
      return keys.stock_misses.cold + keys.stock_misses.empty;
    };
    const before = misses();
    for (let i = 0; i < 3; i++) await sam.getKeys("sunny", { size: 128 });
    expect(misses()).toBe(before); // the stock was not even asked
    await carol.etsi("sue").getKeys("susan", { size: 128 });
    expect(misses()).toBe(before + 1); // control: an our-own pair asks it
  });
});

describe("reference master, our slave", () => {
  test.each([128, 256])("%i bits: shares made by the independent encoder are decoded (sam is configured)", async (size) => {
    const key = new Uint8Array(randomBytes(size / 8));
    const keyId = randomUUID();
    await postShares("sam", "sunny", keyId, encodeReference(key, 5, 3));
    const back = await curtis.etsi("sunny").getKeysWithKeyIds("sam", [keyId]);
    expect(back.keys).toEqual([{ key_ID: keyId, key: b64(key) }]);
  });

  test("one hub's share corrupted: the digest-verified key, and that hub named", async () => {
    const keys = Array.from({ length: 3 }, () => ({ id: randomUUID(), key: new Uint8Array(randomBytes(32)) }));
    for (const k of keys) {
      const shares = encodeReference(k.key, 5, 3);
      shares[3] = { x: 3, y: shares[3].y.map((b, i) => (i === 7 ? b ^ 0x10 : b)) };
      await postShares("sam", "sunny", k.id, shares);
    }
    const sunny = curtis.etsi("sunny");
    for (const k of keys) expect((await sunny.getKeysWithKeyIds("sam", [k.id])).keys).toEqual([{ key_ID: k.id, key: b64(k.key) }]);
    // Whenever holly was asked, its share was found bad (gather rotates over the hubs, so it was).
    const bad = curtis.client.mgmtStatus().bad_shares as { hub: string; key_id: string }[];
    expect(bad.filter((b) => keys.some((k) => k.id === b.key_id)).map((b) => b.hub)).toContain("holly");
    expect(bad.filter((b) => keys.some((k) => k.id === b.key_id) && b.hub !== "holly")).toEqual([]);
  });

  test("an unconfigured master: a 128-bit reference key is recognised by its share length; a 256-bit one is not", async () => {
    const susan = curtis.etsi("susan");
    const short = new Uint8Array(randomBytes(16));
    const shortId = randomUUID();
    await postShares("sue", "susan", shortId, encodeReference(short, 5, 3));
    expect((await susan.getKeysWithKeyIds("sue", [shortId])).keys).toEqual([{ key_ID: shortId, key: b64(short) }]);

    // 32-byte shares could be ours: without configuration they are decoded as ours, and fail
    // (never a wrong key, never a fallback to the 32-bit digest).
    const long = new Uint8Array(randomBytes(32));
    const longId = randomUUID();
    await postShares("sue", "susan", longId, encodeReference(long, 5, 3));
    const err = await etsiError(susan.getKeysWithKeyIds("sue", [longId]));
    expect([400, 503]).toContain(err.status);
  });
});

describe("our own pairs stay ours", () => {
  test("one hub answering with a share of another length cannot switch a pair to the reference decoding", async () => {
    const made = Array.from({ length: 5 }, () => makeSplitKey(256, 5, 3));
    for (const m of made) {
      // hank's share is replaced by 16 bytes at index 0: a reference-looking share
      const shares: RawShare[] = m.shares.map((s, j) => (j === 0 ? { x: 0, y: new Uint8Array(randomBytes(16)) } : s));
      await postShares("sue", "susan", m.keyId, shares);
    }
    const susan = curtis.etsi("susan");
    for (const m of made) {
      expect((await susan.getKeysWithKeyIds("sue", [m.keyId])).keys).toEqual([{ key_ID: m.keyId, key: b64(m.key) }]);
    }
    const bad = curtis.client.mgmtStatus().bad_shares as { hub: string; key_id: string }[];
    const ours = bad.filter((b) => made.some((m) => m.keyId === b.key_id));
    expect(ours.length).toBeGreaterThanOrEqual(1); // hank was in the first wave at least once
    expect(new Set(ours.map((b) => b.hub))).toEqual(new Set(["hank"]));
  });

  test("sue → susan keys are ours (share length |key| + pad + 16, x = position + 1)", async () => {
    const got = await carol.etsi("sue").getKeys("susan", { size: 128 });
    const { key_ID, key } = got.keys[0];
    const shares = await fetchShares("sue", "susan", key_ID, [0, 1, 2]);
    expect(shares.map((s) => [s.x, s.y.length])).toEqual([
      [1, 32],
      [2, 32],
      [3, 32],
    ]);
    expect((await curtis.etsi("susan").getKeysWithKeyIds("sue", [key_ID])).keys).toEqual([{ key_ID, key }]);
  });
});

describe("management status", () => {
  test("states the weaker guarantee and counts reference keys on both sides", () => {
    const mine = carol.client.mgmtStatus().reference_interop as Record<string, unknown>;
    expect(mine).toMatchObject({ saes: ["sunny"], guarantee: REFERENCE_GUARANTEE });
    expect(mine.guarantee).toMatch(/4-byte HMAC-SHA256 digest.*2\^-32 per attempt/);
    expect(mine.keys_issued).toBeGreaterThanOrEqual(9);
    const theirs = curtis.client.mgmtStatus().reference_interop as Record<string, unknown>;
    expect(theirs).toMatchObject({ saes: ["sam"] });
    expect(theirs.keys_reconstructed).toBeGreaterThanOrEqual(6);
    // ETSI status: a reference share costs the key's length, not |key| + pad + 16
    expect(carol.client.status("sam", "sunny").stored_key_count).toBeGreaterThanOrEqual(
      carol.client.status("sue", "susan").stored_key_count,
    );
  });
});
