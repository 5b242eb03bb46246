import { MemoryStore, PsrdExhaustedError, type PsrdStore } from "@dske/psrd";
import { openBundle } from "@dske/distributor";
import { Hub } from "../src/hub";
import type { HubOptions } from "../src/hub-options";
import { HubError } from "../src/errors";
import { poolNames } from "../src/peer-client";
import { stagingPoolName } from "../src/bundle-issuer";
import {
  bytes,
  decryptBatch,
  decryptShare,
  encryptBatch,
  encryptShare,
  provisionMirror,
  replenishMirror,
  type ClientMirror,
  type ProvisionedMirror,
  useTempDir,
  expectHubError,
  defined,
} from "./helpers";

const KEY = "8f7a2c1e-0000-4000-8000-000000000001";
const KEY2 = "8f7a2c1e-0000-4000-8000-000000000002";

async function openHub(extra: Partial<HubOptions> = {}, store: PsrdStore = new MemoryStore()): Promise<Hub> {
  return Hub.open({ name: "hank", store, sweepIntervalMs: 0, ...extra });
}

/**
 * Provision a client from its first bundle (one block per pool of `size` usable bytes, hub-owned
 * confirmed) and register its encryptors, mirrored on the client side.
 */
async function onboard(hub: Hub, name: string, encryptors: string[], size = 4096): Promise<ProvisionedMirror> {
  const mirror = await provisionMirror(hub, name, { encryptors, bytes: size });
  expect(hub.client(name)?.authScheme).toBe("gf128");
  return mirror;
}

async function post(hub: Hub, carol: ClientMirror, value: Uint8Array, extra: Record<string, unknown> = {}, keyId = KEY) {
  const enc = await encryptShare(carol, value);
  await hub.postShare({
    master_client_name: carol.name,
    master_sae_id: "sam",
    slave_sae_id: "sunny",
    user_key_id: keyId,
    share_index: 2,
    ...enc,
    ...extra,
  });
}

describe("Hub registration", () => {
  test("PUT is idempotent and keeps the pools", async () => {
    const hub = await openHub();
    const carol = await onboard(hub, "carol", ["sam"]);
    const again = await hub.register({ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" });
    expect(again).toEqual({ hub_name: "hank", auth_scheme: "gf128", extensions: ["batch"], share_timeout_secs: 60, has_psrd: true });
    const status = hub.status();
    expect(status.peer_clients).toHaveLength(1);
    expect(status.peer_clients[0].pools.client_owned.blocks).toBe(1);
    expect(status.peer_clients[0].pools.hub_owned.blocks).toBe(1);
    expect(carol.local.stats().blocks).toBe(1);
    await hub.close();
  });

  test("negotiates the auth scheme", async () => {
    // A hub that lists hmac-sha256 (for reference peers) falls back to it.
    const hub = await openHub({ authSchemes: ["gf128", "hmac-sha256"] });
    expect((await hub.register({ client_name: "a", encryptor_names: [], auth_scheme: "gf128" })).auth_scheme).toBe("gf128");
    expect((await hub.register({ client_name: "b", encryptor_names: [] })).auth_scheme).toBe("hmac-sha256");
    expect((await hub.register({ client_name: "c", encryptor_names: [], auth_scheme: "rot13" })).auth_scheme).toBe("hmac-sha256");
    expect((await hub.register({ client_name: "d", encryptor_names: [], auth_scheme: "hmac-sha256" })).auth_scheme).toBe("hmac-sha256");
    await hub.close();

    // The default: gf128 only.
    const strict = await openHub();
    expect(strict.authSchemes).toEqual(["gf128"]);
    await expectHubError(strict.register({ client_name: "b", encryptor_names: [] }), "bad_request", /requires an auth_scheme.*gf128/);
    await expectHubError(
      strict.register({ client_name: "b", encryptor_names: [], auth_scheme: "hmac-sha256" }),
      "bad_request",
      /not supported/,
    );
    await strict.close();

    const v1only = await openHub({ authSchemes: ["hmac-sha256"] });
    expect((await v1only.register({ client_name: "a", encryptor_names: [], auth_scheme: "gf128" })).auth_scheme).toBe("hmac-sha256");
    await v1only.close();
  });

  test("refuses a scheme change while registered, and an encryptor hosted by another client", async () => {
    const hub = await openHub({ authSchemes: ["gf128", "hmac-sha256"] });
    await hub.register({ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" });
    await expectHubError(hub.register({ client_name: "carol", encryptor_names: ["sam"] }), "conflict", /unregister/);
    await expectHubError(
      hub.register({ client_name: "celia", encryptor_names: ["serena", "sam"], auth_scheme: "gf128" }),
      "conflict",
      /"sam" already registered/,
    );
    expect(hub.client("celia")).toBeUndefined();
    // Encryptors of a registered client can change.
    await hub.register({ client_name: "carol", encryptor_names: ["sam", "sid"], auth_scheme: "gf128" });
    expect(hub.client("carol")?.encryptorNames.sort()).toEqual(["sam", "sid"]);
    await hub.close();
  });

  test("unregistration deletes the pools and the client's shares; it is idempotent", async () => {
    const store = new MemoryStore();
    const hub = await openHub({}, store);
    const carol = await onboard(hub, "carol", ["sam"]);
    await onboard(hub, "curtis", ["sunny"]);
    await post(hub, carol, bytes(48, 1));
    expect(hub.shareCount).toBe(1);
    expect(await store.listPools()).toContain(poolNames("carol").clientOwned);
    // A bundle issued but not yet confirmed: its hub-owned block waits in the staging pool.
    (await hub.issueBundleBytes("carol", 0, 512)).fill(0);
    expect(await store.listPools()).toContain(stagingPoolName("carol"));
    expect(hub.status().peer_clients.find((c) => c.client_name === "carol")?.psrd?.staged).toEqual({ client: 0, hub: 512, blocks: 1 });
    expect(await hub.unregister("carol")).toBe(true);
    expect(hub.shareCount).toBe(0);
    expect(await store.listPools()).not.toContain(poolNames("carol").clientOwned);
    expect(await store.listPools()).not.toContain(poolNames("carol").hubOwned);
    expect(await store.listPools()).not.toContain(stagingPoolName("carol"));
    expect(hub.status().peer_clients.map((c) => c.client_name)).toEqual(["curtis"]);
    expect(await hub.unregister("carol")).toBe(false);
    expect(hub.peerAuth("carol")).toBeUndefined();
    await hub.close();
  });
});

describe("Hub PSRD delivery", () => {
  test.each(["gf128", "hmac-sha256"] as const)(
    "bundles: the hub keeps a copy equal to the bundle's blocks; hub-owned blocks only after the client confirms (%s)",
    async (scheme) => {
      const hub = await openHub({ authSchemes: [scheme] });
      const prefix = scheme === "gf128" ? 16 : 0;
      const sealed = await hub.issueBundleBytes("carol", 240, 112);
      const opened = openBundle(sealed, { clientName: "carol", hubName: "hank", expectedSeq: 1 });
      expect(opened.header.auth_scheme).toBe(scheme);
      const [a, b] = opened.blocks;
      expect([a.pool_owner, a.data.length, b.pool_owner, b.data.length]).toEqual(["client", 240 + prefix, "hub", 112 + prefix]);
      const client = defined(hub.client("carol"));
      expect(client.authScheme).toBe(scheme);

      // client-owned: usable at once; the hub holds it as a peer pool and takes named bytes.
      const taken = await client.clientOwnedPool.take({ fragments: [{ blockUuid: a.block_uuid, start: prefix, size: 240 }] }, "test");
      expect(Buffer.from(taken)).toEqual(Buffer.from(a.data.subarray(prefix)));
      if (prefix > 0) expect(Buffer.from(await client.clientOwnedPool.blockKey(a.block_uuid))).toEqual(Buffer.from(a.data.subarray(0, 16)));

      // hub-owned: staged, so the hub cannot allocate from it before the client confirms it.
      expect(client.hubOwnedPool.hasBlock(b.block_uuid)).toBe(false);
      await expect(client.hubOwnedPool.allocate(16, "test")).rejects.toBeInstanceOf(PsrdExhaustedError);
      expect(await hub.confirmPsrd("carol", [b.block_uuid])).toBe(1);
      expect(await hub.confirmPsrd("carol", [b.block_uuid])).toBe(0); // already confirmed
      // Then the hub allocates from it (bump allocator from the first byte after the prefix).
      const { allocation, data } = await client.hubOwnedPool.allocate(112, "test");
      expect(allocation.fragments[0].blockUuid).toBe(b.block_uuid);
      expect(Buffer.from(data)).toEqual(Buffer.from(b.data.subarray(prefix)));
      expect(a.block_uuid).not.toBe(b.block_uuid);
      sealed.fill(0);
      await hub.close();
    },
  );

  test.each(["gf128", "hmac-sha256"] as const)(
    "network delivery: the hub keeps a copy equal to the bytes returned, usable only after confirmation (%s)",
    async (scheme) => {
      const hub = await openHub({ authSchemes: [scheme], psrdDelivery: "network" });
      await hub.register({ client_name: "carol", encryptor_names: [], auth_scheme: scheme });
      const prefix = scheme === "gf128" ? 16 : 0;
      const client = defined(hub.client("carol"));

      // client-owned: staged until confirmed, then the hub takes named bytes of it.
      const a = await hub.createPsrdBlock("carol", "client", 256);
      expect(a.data.length).toBe(256);
      expect(client.clientOwnedPool.hasBlock(a.blockUuid)).toBe(false);
      expect(hub.status().peer_clients[0].psrd?.staged).toEqual({ client: 256 - prefix, hub: 0, blocks: 1 });
      expect(await hub.confirmPsrd("carol", [a.blockUuid])).toBe(1);
      const taken = await client.clientOwnedPool.take(
        { fragments: [{ blockUuid: a.blockUuid, start: prefix, size: 256 - prefix }] },
        "test",
      );
      expect(Buffer.from(taken)).toEqual(Buffer.from(a.data.subarray(prefix)));
      if (prefix > 0) expect(Buffer.from(await client.clientOwnedPool.blockKey(a.blockUuid))).toEqual(Buffer.from(a.data.subarray(0, 16)));

      // hub-owned: the hub allocates from it only after the confirmation.
      const b = await hub.createPsrdBlock("carol", "hub", 128);
      await expect(client.hubOwnedPool.allocate(16, "test")).rejects.toBeInstanceOf(PsrdExhaustedError);
      expect(await hub.confirmPsrd("carol", [b.blockUuid])).toBe(1);
      const { allocation, data } = await client.hubOwnedPool.allocate(128 - prefix, "test");
      expect(allocation.fragments[0].blockUuid).toBe(b.blockUuid);
      expect(Buffer.from(data)).toEqual(Buffer.from(b.data.subarray(prefix)));
      expect(a.blockUuid).not.toBe(b.blockUuid);
      expect(hub.status().peer_clients[0].psrd?.staged).toEqual({ client: 0, hub: 0, blocks: 0 });
      await hub.close();
    },
  );

  test("network delivery refuses unknown clients and bad sizes; a bundle-only hub refuses it altogether", async () => {
    const hub = await openHub({ maxPsrdBlockBytes: 1000, psrdDelivery: "network" });
    await expectHubError(hub.createPsrdBlock("nobody", "client", 100), "not_found", /not registered/);
    await hub.register({ client_name: "carol", encryptor_names: [], auth_scheme: "gf128" });
    await expectHubError(hub.createPsrdBlock("carol", "client", 1001), "bad_request", /1 to 1000/);
    await expectHubError(hub.createPsrdBlock("carol", "client", 16), "bad_request", /key prefix/);
    await expectHubError(hub.createPsrdBlock("carol", "hub", 0), "bad_request");
    expect(hub.status().peer_clients[0].pools.client_owned.blocks).toBe(0);
    expect(hub.status().peer_clients[0].psrd?.staged.blocks).toBe(0);
    await hub.close();

    const bundleOnly = await openHub();
    expect(bundleOnly.psrdDelivery).toBe("bundle");
    await bundleOnly.register({ client_name: "carol", encryptor_names: [], auth_scheme: "gf128" });
    await expectHubError(bundleOnly.createPsrdBlock("carol", "client", 100), "forbidden", /only in bundles/);
    await expectHubError(bundleOnly.createPsrdBlock("carol", "hub", 100), "forbidden", /only in bundles/);
    const st = bundleOnly.status().peer_clients[0];
    expect([st.pools.client_owned.blocks, st.pools.hub_owned.blocks, st.psrd?.staged.blocks]).toEqual([0, 0, 0]);
    await bundleOnly.close();
  });
});

describe("Hub shares", () => {
  let hub: Hub;
  let carol: ClientMirror;
  let curtis: ProvisionedMirror;
  let celia: ClientMirror;
  let now: number;

  beforeEach(async () => {
    now = 1_000_000;
    hub = await openHub({ now: () => now, shareTimeoutSecs: 60 });
    carol = await onboard(hub, "carol", ["sam"]);
    curtis = await onboard(hub, "curtis", ["sunny", "susan"]);
    celia = await onboard(hub, "celia", ["serena"]);
  });
  afterEach(async () => {
    await hub.close();
  });

  test("post decrypts with the client-owned pool; get re-encrypts with the hub-owned pool", async () => {
    const share = bytes(48, 7);
    const before = defined(hub.client("carol")).clientOwnedPool.stats().used;
    await post(hub, carol, share);
    expect(defined(hub.client("carol")).clientOwnedPool.stats().used - before).toBe(48);
    const status = hub.status();
    expect(status.shares).toEqual([
      {
        master_client_name: "carol",
        key_id: KEY,
        share_index: 2,
        slave_sae_ids: ["sunny"],
        fetched_by: [],
        acked_by: [],
        pending_ack: [],
        expires_at: new Date(now + 60_000).toISOString(),
      },
    ]);
    expect(JSON.stringify(status)).not.toContain(Buffer.from(share).toString("base64"));

    const got = await hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(got.share_index).toBe(2);
    expect(got.encrypted_share_value).not.toBe(Buffer.from(share).toString("base64"));
    const plain = await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value);
    expect(Buffer.from(plain)).toEqual(Buffer.from(share));
    // curtis was the only intended responder: the share is gone.
    expect(hub.shareCount).toBe(0);
    await expectHubError(hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }), "not_found");
  });

  test("a share is released only to a client hosting an intended slave SAE, without revealing why", async () => {
    await post(hub, carol, bytes(32, 1));
    const q = { master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY };
    const notHosted = await expectHubError(hub.getShare({ ...q, client_name: "celia" }), "not_found");
    const notIntended = await expectHubError(hub.getShare({ ...q, slave_sae_id: "susan", client_name: "curtis" }), "not_found");
    const claimsOther = await expectHubError(hub.getShare({ ...q, slave_sae_id: "serena", client_name: "curtis" }), "not_found");
    const unknown = await expectHubError(hub.getShare({ ...q, key_id: KEY2, client_name: "curtis" }), "not_found");
    const wrongMaster = await expectHubError(hub.getShare({ ...q, master_sae_id: "serena", client_name: "curtis" }), "not_found");
    // Same wording for every refusal (apart from the names the caller itself supplied).
    const strip = (e: HubError) => e.message.replace(KEY2, KEY).replace("celia", "X").replace("curtis", "X");
    expect(new Set([notHosted, notIntended, claimsOther, unknown, wrongMaster].map(strip)).size).toBe(1);
    // Nothing was consumed from the refused clients' hub-owned pools, and the share is still there.
    expect(defined(hub.client("celia")).hubOwnedPool.stats().used).toBe(16);
    expect(hub.shareCount).toBe(1);
  });

  test("the master must host master_sae_id", async () => {
    const enc = await encryptShare(carol, bytes(32, 2));
    await expectHubError(
      hub.postShare({
        master_client_name: "carol",
        master_sae_id: "serena",
        slave_sae_id: "sunny",
        user_key_id: KEY,
        share_index: 1,
        ...enc,
      }),
      "forbidden",
      /not an encryptor of client carol/,
    );
    expect(hub.shareCount).toBe(0);
  });

  test("multicast: kept until every intended responder client fetched; re-fetch allowed until then", async () => {
    const share = bytes(48, 3);
    await post(hub, carol, share, { additional_slave_sae_ids: ["serena", "susan"] });
    const q = { master_sae_id: "sam", key_id: KEY };
    const first = await hub.getShare({ ...q, slave_sae_id: "sunny", client_name: "curtis" });
    expect(hub.shareCount).toBe(1);
    // The same client fetches again (e.g. for its second SAE, or after a lost response): fresh PSRD.
    const again = await hub.getShare({ ...q, slave_sae_id: "susan", client_name: "curtis" });
    expect(again.encryption_key_allocation).not.toEqual(first.encryption_key_allocation);
    const [p1, p2] = [
      await decryptShare(curtis, first.encryption_key_allocation, first.encrypted_share_value),
      await decryptShare(curtis, again.encryption_key_allocation, again.encrypted_share_value),
    ];
    expect(Buffer.from(p1)).toEqual(Buffer.from(share));
    expect(Buffer.from(p2)).toEqual(Buffer.from(share));
    expect(hub.status().shares[0].fetched_by).toEqual(["curtis"]);
    expect(hub.shareCount).toBe(1);
    const last = await hub.getShare({ ...q, slave_sae_id: "serena", client_name: "celia" });
    expect(Buffer.from(await decryptShare(celia, last.encryption_key_allocation, last.encrypted_share_value))).toEqual(Buffer.from(share));
    expect(hub.shareCount).toBe(0);
  });

  test("shares time out (swept, and never served after expiry)", async () => {
    await post(hub, carol, bytes(32, 4));
    await post(hub, carol, bytes(32, 5), {}, KEY2);
    now += 59_999;
    expect(hub.sweep()).toBe(0);
    now += 1;
    // Expired but not yet swept: not served.
    await expectHubError(hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }), "not_found");
    expect(hub.sweep()).toBe(2);
    expect(hub.shareCount).toBe(0);
  });

  test("the allocation must match the share size; nothing is consumed otherwise", async () => {
    const enc = await encryptShare(carol, bytes(32, 6));
    const pool = defined(hub.client("carol")).clientOwnedPool;
    const used = pool.stats().used;
    const bad = { ...enc, encrypted_share_value: Buffer.from(bytes(31, 6)).toString("base64") };
    await expectHubError(
      hub.postShare({ master_client_name: "carol", master_sae_id: "sam", slave_sae_id: "sunny", user_key_id: KEY, share_index: 1, ...bad }),
      "bad_request",
      /names 32 bytes but the share value\(s\) have 31/,
    );
    expect(pool.stats().used).toBe(used);
    // The correct post still works with that very allocation.
    await hub.postShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    expect(pool.stats().used).toBe(used + 32);
  });

  test("a replayed pad is refused (400) and an unknown client is 404", async () => {
    const enc = await encryptShare(carol, bytes(32, 8));
    const body = { master_client_name: "carol", master_sae_id: "sam", slave_sae_id: "sunny", share_index: 1, ...enc };
    await hub.postShare({ ...body, user_key_id: KEY });
    await expectHubError(hub.postShare({ ...body, user_key_id: KEY2 }), "bad_request", /invalid PSRD allocation/);
    await expectHubError(hub.postShare({ ...body, master_client_name: "nobody", user_key_id: KEY2 }), "not_found");
    expect(hub.shareCount).toBe(1);
  });

  test("re-posting an identical share succeeds, a different one is a conflict", async () => {
    const share = bytes(32, 9);
    await post(hub, carol, share);
    await post(hub, carol, share); // retry with a fresh pad
    expect(hub.shareCount).toBe(1);
    await expectHubError(post(hub, carol, bytes(32, 10)), "conflict", /different share/);
    await expectHubError(post(hub, carol, share, { share_index: 3 }), "conflict");
    const got = await hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(Buffer.from(share));
  });

  test("PSRD exhaustion on fetch is 503 and does not count as a fetch", async () => {
    await post(hub, carol, bytes(4000, 11));
    // Drain curtis's hub-owned pool (as earlier fetches would have).
    (await defined(hub.client("curtis")).hubOwnedPool.allocate(4000, "drain")).data.fill(0);
    await expectHubError(
      hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }),
      "exhausted",
      /PSRD exhausted/,
    );
    expect(hub.status().shares[0].fetched_by).toEqual([]);
    // The local distributor brings more hub-owned PSRD (a bundle; the client confirms it).
    await replenishMirror(hub, curtis, { hub: 8192 });
    const got = await hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(
      Buffer.from(bytes(4000, 11)),
    );
  });

  test("batch post and fetch: one allocation per message, pads cut in order", async () => {
    const values = Array.from({ length: 10 }, (_, i) => bytes(48, 100 + i));
    const keyIds = values.map((_, i) => `k-${i}`);
    const enc = await encryptBatch(carol, values);
    const stored = await hub.postShares(
      "carol",
      enc.encryption_key_allocation,
      values.map((_, i) => ({
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: keyIds[i],
        share_index: 1,
        encrypted_share_value: enc.ciphertexts[i],
      })),
    );
    expect(stored).toBe(10);
    const res = await hub.fetchShares("curtis", [
      ...keyIds.slice(0, 6).map((key_id) => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id })),
      { master_sae_id: "sam", slave_sae_id: "sunny", key_id: "unknown-key" },
    ]);
    expect(res.missing).toEqual(["unknown-key"]);
    expect(res.shares.map((s) => s.key_id)).toEqual(keyIds.slice(0, 6));
    const plains = await decryptBatch(
      curtis,
      defined(res.encryption_key_allocation),
      res.shares.map((s) => s.encrypted_share_value),
    );
    plains.forEach((p, i) => expect(Buffer.from(p)).toEqual(Buffer.from(values[i])));
    expect(hub.shareCount).toBe(4);
    // Another client gets nothing and nothing is allocated for it.
    const other = await hub.fetchShares("celia", [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: "k-7" }]);
    expect(other).toEqual({ shares: [], missing: ["k-7"] });
  });

  test("batch post is all or nothing", async () => {
    const values = [bytes(32, 1), bytes(32, 2), bytes(32, 3)];
    const enc = await encryptBatch(carol, values);
    const pool = defined(hub.client("carol")).clientOwnedPool;
    const used = pool.stats().used;
    const items = values.map((_, i) => ({
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: `b-${i}`,
      share_index: 1,
      encrypted_share_value: enc.ciphertexts[i],
    }));
    const e1 = await expectHubError(
      hub.postShares("carol", enc.encryption_key_allocation, [items[0], { ...items[1], master_sae_id: "sunny" }, items[2]]),
      "forbidden",
      /shares\[1\]/,
    );
    expect(e1.details).toEqual([{ index: 1, field: "master_sae_id" }]);
    await expectHubError(
      hub.postShares("carol", enc.encryption_key_allocation, [items[0], { ...items[1], user_key_id: "b-0" }, items[2]]),
      "bad_request",
      /more than once/,
    );
    await expectHubError(hub.postShares("carol", enc.encryption_key_allocation, items.slice(0, 2)), "bad_request", /96 bytes/);
    expect(hub.shareCount).toBe(0);
    expect(pool.stats().used).toBe(used);
    expect(await hub.postShares("carol", enc.encryption_key_allocation, items)).toBe(3);
    expect(hub.shareCount).toBe(3);
  });
});

describe("Hub persistence (state journal)", () => {
  const tmp = useTempDir("dske-hub-");

  test("registrations, shares and fetch marks survive a restart; deleted shares do not", async () => {
    const store = new MemoryStore(); // stands in for a durable store across the "restart"
    let now = 5_000_000;
    const hub = await openHub({ stateDir: tmp.path, now: () => now }, store);
    const carol = await onboard(hub, "carol", ["sam"]);
    const curtis = await onboard(hub, "curtis", ["sunny"]);
    const celia = await onboard(hub, "celia", ["serena"]);
    const share = bytes(48, 21);
    await post(hub, carol, share, { additional_slave_sae_ids: ["serena"] });
    await post(hub, carol, bytes(48, 22), {}, KEY2);
    await hub
      .getShare({ client_name: "celia", master_sae_id: "sam", slave_sae_id: "serena", key_id: KEY })
      .then((g) => decryptShare(celia, g.encryption_key_allocation, g.encrypted_share_value));
    const g2 = await hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY2 });
    await decryptShare(curtis, g2.encryption_key_allocation, g2.encrypted_share_value);
    await hub.unregister("celia");
    await hub.close();

    const reopened = await openHub({ stateDir: tmp.path, now: () => now }, store);
    expect(
      reopened
        .status()
        .peer_clients.map((c) => c.client_name)
        .sort(),
    ).toEqual(["carol", "curtis"]);
    expect(reopened.status().shares.map((s) => [s.key_id, s.fetched_by])).toEqual([[KEY, ["celia"]]]);
    const got = await reopened.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(Buffer.from(share));
    // celia is no longer registered, so serena has no host: the share waits for its timeout.
    expect(reopened.shareCount).toBe(1);
    await reopened.close();

    now += 61_000;
    const third = await openHub({ stateDir: tmp.path, now: () => now }, store);
    expect(third.shareCount).toBe(0);
    expect(third.client("carol")?.authScheme).toBe("gf128");
    await third.close();
  });
});

describe("Hub durability ordering", () => {
  /** Poll until `cond` holds (the bound only guards against a hang). */
  async function until(cond: () => boolean): Promise<void> {
    for (const end = Date.now() + 20_000; !cond();) {
      if (Date.now() > end) throw new Error("condition not reached");
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** A MemoryStore whose peer pools' commits wait for a gate (or fail) while `hold` is set. */
  function gatedStore() {
    const store = new MemoryStore();
    // atGate: commits that reached the gate (the test waits for that, not for time).
    const ctl = { hold: false, fail: false, release: () => {}, commits: 0, atGate: 0 };
    const openPool = store.openPool.bind(store);
    store.openPool = async (name, owner) => {
      const pool = await openPool(name, owner);
      if (owner !== "peer") return pool;
      return new Proxy(pool, {
        get(target, prop, receiver) {
          if (prop !== "reserve") return Reflect.get(target, prop, receiver) as unknown;
          return async (...args: Parameters<typeof pool.reserve>) => {
            const r = await target.reserve(...args);
            if (!ctl.hold) return r;
            const gate = new Promise<void>((resolve) => (ctl.release = resolve));
            return {
              data: r.data,
              allocation: r.allocation,
              release: () => r.release(),
              commit: async () => {
                ctl.atGate++;
                await gate;
                if (ctl.fail) {
                  r.release();
                  throw new Error("disk on fire");
                }
                ctl.commits++;
                await r.commit();
              },
            };
          };
        },
      });
    };
    return { store, ctl };
  }

  test("a posted share is not served before the PSRD that decrypted it is committed; a failed commit drops it", async () => {
    const { store, ctl } = gatedStore();
    const hub = await openHub({}, store);
    const carol = await onboard(hub, "carol", ["sam"]);
    const curtis = await onboard(hub, "curtis", ["sunny"]);
    const q = { client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY };

    ctl.hold = true;
    const posting = post(hub, carol, bytes(32, 31));
    // The PSRD commit waits at the gate; the share is stored meanwhile (journal order)...
    await until(() => ctl.atGate === 1 && hub.shareCount === 1);
    // ...but not released yet.
    await expectHubError(hub.getShare(q), "not_found");
    ctl.release();
    await posting;
    expect(ctl.commits).toBe(1);
    const got = await hub.getShare(q);
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(
      Buffer.from(bytes(32, 31)),
    );

    ctl.fail = true;
    const failing = post(hub, carol, bytes(32, 32), {}, KEY2);
    await until(() => ctl.atGate === 2);
    ctl.release();
    await expect(failing).rejects.toThrow(/disk on fire/);
    expect(hub.shareCount).toBe(0);
    await hub.close();
  });
});
