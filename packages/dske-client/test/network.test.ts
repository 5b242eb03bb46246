/**
 * In-process DSKE network: 5 hubs (createHubRouter, MemoryStore) + 2 clients (createClientRouter),
 * all on 127.0.0.1 port 0, driven over HTTP through EtsiApi as SAEs do.
 *   carol hosts sam (master) and sue; curtis hosts sunny and susan.
 */
import { EtsiApiError } from "@dske/protocol";
import { newKeyId } from "../src/key";
import { defined } from "./defined";
import { startNetwork, usedBytes, waitFor, type TestClient, type TestHub, type TestNetwork } from "./harness";

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
let net: TestNetwork;
let hubs: TestHub[];
let carol: TestClient;
let curtis: TestClient;

beforeAll(async () => {
  // No hedged fetches (a 4th hub asked when one of the first k is slow): on a busy machine they
  // would add one exchange to the PSRD budget below. Down hubs fail fast and are replaced anyway.
  // Nor requests given up after the harness's 3 s and asked of another hub (a fetch retried
  // elsewhere costs another 80 bytes). Nor acknowledgements sent alone on a timer (acks.ts): they
  // ride on fetches or go when a test flushes them, so that the budget test counts only its own
  // messages (an earlier test's ack flush landing in its window cost 5 × 16 or 5 × 32 bytes more).
  net = await startNetwork({
    hubs: HUBS,
    k: 3,
    client: { gather: { hedgeMs: 60_000 }, link: { timeoutMs: 60_000, ackFlushMs: 60_000 } },
  });
  ({ hubs, carol, curtis } = net);
});

afterAll(() => (net as TestNetwork | undefined)?.close()); // unset when beforeAll failed

async function expectEtsiError(p: Promise<unknown>, status: number, message?: RegExp): Promise<EtsiApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EtsiApiError);
    const e = err as EtsiApiError;
    expect(e.status).toBe(status);
    if (message) expect(e.message).toMatch(message);
    return e;
  }
  throw new Error(`expected ETSI ${status}`);
}

/** Wait until every live hub stored its share of these keys (the slow hubs finish in the background). */
async function sharesEverywhere(keyIds: string[], live = hubs): Promise<void> {
  await waitFor(
    () => live.every((h) => keyIds.every((id) => h.hub.status().shares.some((s) => s.key_id === id))),
    20_000,
    "shares on every hub",
  );
}

describe("key establishment", () => {
  test("enc_keys on the master, dec_keys on the slave: keys equal (GET forms)", async () => {
    const sam = carol.etsi("sam");
    const sunny = curtis.etsi("sunny");
    const got = await sam.getKey("sunny");
    expect(got.keys).toHaveLength(1);
    const { key_ID, key } = got.keys[0];
    expect(Buffer.from(key, "base64")).toHaveLength(32); // default 256 bits
    const back = await sunny.getKeyWithKeyId("sam", key_ID);
    expect(back.keys).toEqual([{ key_ID, key }]);
  });

  test.each([128, 256, 40, 4096])("size %i bits, number 5 (POST forms, batch extension)", async (size) => {
    const got = await carol.etsi("sam").getKeys("sunny", { number: 5, size });
    expect(got.keys).toHaveLength(5);
    for (const k of got.keys) expect(Buffer.from(k.key, "base64")).toHaveLength(size / 8);
    expect(new Set(got.keys.map((k) => k.key)).size).toBe(5);
    const back = await curtis.etsi("sunny").getKeysWithKeyIds(
      "sam",
      got.keys.map((k) => k.key_ID),
    );
    expect(back.keys).toEqual(got.keys);
  });

  test("16 concurrent enc_keys / dec_keys are coalesced into hub batches: every key correct, delivered once", async () => {
    const posts0 = carol.client.peerHubs.map((h) => ({ b: h.postCoalescer.batches, e: h.postCoalescer.entries }));
    const fetch0 = curtis.client.peerHubs.map((h) => ({ b: h.fetchCoalescer.batches, e: h.fetchCoalescer.entries }));
    const masters = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? "sam" : "sue"));
    const slaves = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? "susan" : "sunny"));
    const issued = await Promise.all(masters.map((m, i) => carol.etsi(m).getKeys(slaves[i], { number: 1 + (i % 3) })));
    const allKeys = issued.flatMap((c) => c.keys);
    expect(new Set(allKeys.map((k) => k.key_ID)).size).toBe(allKeys.length);
    expect(new Set(allKeys.map((k) => k.key)).size).toBe(allKeys.length);
    // Fewer hub messages than ETSI requests: the concurrent requests shared batches.
    carol.client.peerHubs.forEach((h, j) => {
      const entries = h.postCoalescer.entries - posts0[j].e;
      const batches = h.postCoalescer.batches - posts0[j].b;
      expect(entries).toBe(16);
      expect(batches).toBeLessThan(entries);
    });
    const back = await Promise.all(
      issued.map((c, i) =>
        curtis.etsi(slaves[i]).getKeysWithKeyIds(
          masters[i],
          c.keys.map((k) => k.key_ID),
        ),
      ),
    );
    back.forEach((b, i) => expect(b.keys).toEqual(issued[i].keys));
    // The hubs signed their responses with pads consumed alongside the request's own commit.
    for (const h of hubs) expect(h.hub.client("carol")?.signing.usedFromReserve).toBeGreaterThan(0);
    expect(curtis.client.peerHubs.some((h, j) => h.fetchCoalescer.batches - fetch0[j].b < h.fetchCoalescer.entries - fetch0[j].e)).toBe(
      true,
    );
    // Delivered once: a second fetch of any of them is "not found", also when concurrent.
    const again = await Promise.allSettled(
      issued.map((c, i) =>
        curtis.etsi(slaves[i]).getKeysWithKeyIds(
          masters[i],
          c.keys.map((k) => k.key_ID),
        ),
      ),
    );
    for (const r of again) {
      expect(r.status).toBe("rejected");
      expect(((r as PromiseRejectedResult).reason as EtsiApiError).status).toBe(400);
    }
  });

  test("each key goes to each intended slave once; others get 401 or 400", async () => {
    const got = await carol.etsi("sam").getKey("sunny");
    const id = got.keys[0].key_ID;
    await sharesEverywhere([id]);
    // susan (same KME as sunny, not intended) → 401, learns nothing, and does not use up the key
    await expectEtsiError(curtis.etsi("susan").getKeyWithKeyId("sam", id), 401);
    // sue (hosted by the master's KME, not intended) → 401 from local bookkeeping
    await expectEtsiError(carol.etsi("sue").getKeyWithKeyId("sam", id), 401);
    // the right slave still gets it, once
    const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", id);
    expect(back.keys[0].key).toBe(got.keys[0].key);
    await expectEtsiError(curtis.etsi("sunny").getKeyWithKeyId("sam", id), 400, /one or more keys specified are not found on KME/);
    // unknown key ID
    await expectEtsiError(
      curtis.etsi("sunny").getKeyWithKeyId("sam", newKeyId(256)),
      400,
      /one or more keys specified are not found on KME/,
    );
    // wrong master in the path
    const other = await carol.etsi("sam").getKey("sunny");
    await expectEtsiError(curtis.etsi("sunny").getKeyWithKeyId("sue", other.keys[0].key_ID), 400);
    // a request mixing a good and an unknown ID fails as a whole; a retry with the good one works
    const unknown = newKeyId(256);
    const e = await expectEtsiError(curtis.etsi("sunny").getKeysWithKeyIds("sam", [other.keys[0].key_ID, unknown]), 400, /not found/);
    expect(JSON.stringify(e.details)).toContain(unknown);
    const retry = await curtis.etsi("sunny").getKeysWithKeyIds("sam", [other.keys[0].key_ID]);
    expect(retry.keys).toEqual(other.keys);
  });

  test("multicast: one key to two slaves on two KMEs", async () => {
    const got = await carol.etsi("sam").getKeys("sunny", { number: 2, additional_slave_SAE_IDs: ["sue"] });
    const ids = got.keys.map((k) => k.key_ID);
    const atSunny = await curtis.etsi("sunny").getKeysWithKeyIds("sam", ids);
    const atSue = await carol.etsi("sue").getKeysWithKeyIds("sam", ids);
    expect(atSunny.keys).toEqual(got.keys);
    expect(atSue.keys).toEqual(got.keys);
    await expectEtsiError(curtis.etsi("susan").getKeysWithKeyIds("sam", ids), 401);
  });

  test("multicast to two slaves hosted by the same KME: each gets the key once", async () => {
    const got = await carol.etsi("sam").getKeys("sunny", { number: 3, size: 128, additional_slave_SAE_IDs: ["susan"] });
    const ids = got.keys.map((k) => k.key_ID);
    await sharesEverywhere(ids);
    const atSunny = await curtis.etsi("sunny").getKeysWithKeyIds("sam", ids);
    expect(atSunny.keys).toEqual(got.keys);
    // the hubs released each share to curtis once (and dropped it); susan is served from curtis
    const atSusan = await curtis.etsi("susan").getKeysWithKeyIds("sam", ids);
    expect(atSusan.keys).toEqual(got.keys);
    await expectEtsiError(curtis.etsi("susan").getKeysWithKeyIds("sam", ids), 400, /not found/);
    await expectEtsiError(curtis.etsi("sunny").getKeyWithKeyId("sam", ids[0]), 400, /not found/);
    // a unicast key is never held for another local SAE
    const uni = await carol.etsi("sam").getKey("sunny");
    await curtis.etsi("sunny").getKeyWithKeyId("sam", uni.keys[0].key_ID);
    // ... also once every hub dropped its share (our acknowledgements reached them; before, the
    // answer depended on whether the ack flush had run: 400 "not found" under load)
    await curtis.client.flushAcks();
    await expectEtsiError(curtis.etsi("susan").getKeyWithKeyId("sam", uni.keys[0].key_ID), 401);
  });

  test("ETSI status reports PSRD-backed stored_key_count towards the slave", async () => {
    const st = await carol.etsi("sam").getStatus("sunny");
    expect(st).toMatchObject({ source_KME_ID: "carol", target_KME_ID: "curtis", master_SAE_ID: "sam", slave_SAE_ID: "sunny" });
    expect(st.stored_key_count).toBeGreaterThan(0);
    expect(st.stored_key_count).toBeLessThanOrEqual(st.max_key_count);
    // bound by the PSRD: (client-owned available) / (|S| + MAC) on the k-th best hub
    const perHub = carol.client.peerHubs.map((h) => Math.floor(defined(h.poolStats("local")).available / (48 + 16)));
    expect(st.stored_key_count).toBeLessThanOrEqual(Math.max(...perHub));
  });
});

describe("PSRD budget", () => {
  test("a 256-bit key pair consumes at most 700 bytes of PSRD (5 hubs, k = 3)", async () => {
    // warm up (registration, first blocks) and let the background settle
    const warm = await carol.etsi("sam").getKey("sunny");
    await sharesEverywhere([warm.keys[0].key_ID]);
    await curtis.etsi("sunny").getKeyWithKeyId("sam", warm.keys[0].key_ID);
    // every pending acknowledgement (the warm key's, and carol's for sue's earlier multicast keys) goes out before the count
    await Promise.all([carol.client.flushAcks(), curtis.client.flushAcks()]);

    const before = (await usedBytes(carol.store)) + (await usedBytes(curtis.store));
    const got = await carol.etsi("sam").getKey("sunny", { size: 256 });
    await sharesEverywhere([got.keys[0].key_ID]);
    const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
    expect(back.keys[0].key).toBe(got.keys[0].key);
    const after = (await usedBytes(carol.store)) + (await usedBytes(curtis.store));
    const consumed = after - before;
    // 5 hubs × (16 request MAC + 48 share pad + 16 response MAC) + 3 hubs × (16 + 48 + 16) = 640
    expect(consumed).toBeLessThanOrEqual(700);
    expect(consumed).toBe(640);
  });
});

describe("hub failures", () => {
  test("2 of 5 hubs down: keys still work; 3 down: 503 naming the shortfall; back up: works again", async () => {
    await hubs[1].down();
    await hubs[3].down();
    try {
      const got = await carol.etsi("sam").getKey("sunny");
      const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
      expect(back.keys).toEqual(got.keys);

      await hubs[4].down();
      const e = await expectEtsiError(carol.etsi("sam").getKey("sunny"), 503);
      expect(e.message).toMatch(/^only 2 of 5 hubs acknowledged, 3 needed: /);
      for (const name of ["helen", "holly", "hugo"]) expect(e.message).toContain(`${name}: connection refused`);
    } finally {
      await hubs[1].up();
      await hubs[3].up();
      await hubs[4].up();
    }
    // the clients notice the hubs are back (registration retries with backoff)
    await carol.client.whenRegistered(5, 60_000);
    await curtis.client.whenRegistered(5, 60_000);
    const again = await carol.etsi("sam").getKey("sunny");
    const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", again.keys[0].key_ID);
    expect(back.keys).toEqual(again.keys);
  });

  test("a hub that gives wrong shares: the slave still gets the right key and status names the hub", async () => {
    const bad = hubs[2]; // hilary
    const hub = bad.hub;
    const origGet = hub.getShare.bind(hub);
    const origFetch = hub.fetchShares.bind(hub);
    const flip = (b64: string) => {
      const b = Buffer.from(b64, "base64");
      b[0] ^= 0x01; // flips the same bit of the decrypted share (one-time pad)
      return b.toString("base64");
    };
    hub.getShare = async (q) => {
      const r = await origGet(q);
      return { ...r, encrypted_share_value: flip(r.encrypted_share_value) };
    };
    hub.fetchShares = async (c, keys) => {
      const r = await origFetch(c, keys);
      return { ...r, shares: r.shares.map((s) => ({ ...s, encrypted_share_value: flip(s.encrypted_share_value) })) };
    };
    try {
      // The gather order rotates, so within a few requests hilary is among the first k.
      for (let i = 0; i < 6; i++) {
        const got = await carol.etsi("sam").getKey("sunny");
        await sharesEverywhere([got.keys[0].key_ID]);
        const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
        expect(back.keys).toEqual(got.keys);
      }
      const batch = await carol.etsi("sam").getKeys("sunny", { number: 4 });
      await sharesEverywhere(batch.keys.map((k) => k.key_ID));
      const backBatch = await curtis.etsi("sunny").getKeysWithKeyIds(
        "sam",
        batch.keys.map((k) => k.key_ID),
      );
      expect(backBatch.keys).toEqual(batch.keys);
    } finally {
      hub.getShare = origGet;
      hub.fetchShares = origFetch;
    }
    const status = curtis.client.mgmtStatus() as {
      peer_hubs: { hub_name: string; bad_shares: number }[];
      bad_shares: { hub: string }[];
    };
    const hilary = defined(status.peer_hubs.find((h) => h.hub_name === "hilary"));
    expect(hilary.bad_shares).toBeGreaterThan(0);
    expect(status.bad_shares.every((b) => b.hub === "hilary")).toBe(true);
    for (const h of status.peer_hubs) if (h.hub_name !== "hilary") expect(h.bad_shares).toBe(0);
  });
});
