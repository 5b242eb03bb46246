/**
 * The `ack` extension: a share released to a client that negotiated it stays "released, awaiting
 * acknowledgement" (re-fetchable by that client only, with fresh PSRD) until the client
 * acknowledges it or it times out; v1 clients keep delete-on-fetch.
 */
import { MemoryStore, type PsrdStore } from "@dske/psrd";
import { Hub } from "../src/hub";
import type { HubOptions } from "../src/hub-options";
import { HubError } from "../src/errors";
import { bytes, decryptBatch, defined, decryptShare, encryptShare, provisionMirror, type ClientMirror, useTempDir } from "./helpers";

const KEY = "8f7a2c1e-0000-4000-8000-0000000000a1";
const KEY2 = "8f7a2c1e-0000-4000-8000-0000000000a2";

async function openHub(extra: Partial<HubOptions> = {}, store: PsrdStore = new MemoryStore()): Promise<Hub> {
  return Hub.open({ name: "hank", store, sweepIntervalMs: 0, shareTimeoutSecs: 60, ...extra });
}

/** Provision a client from its first bundle and register it (with the ack extension if asked). */
async function onboard(hub: Hub, name: string, encryptors: string[], ack: boolean): Promise<ClientMirror> {
  const mirror = await provisionMirror(hub, name, { encryptors, bytes: 4096, ack });
  // Registering again (idempotent) answers with the negotiated extensions.
  const reg = await hub.register({
    client_name: name,
    encryptor_names: encryptors,
    auth_scheme: "gf128",
    ...(ack ? { extensions: ["ack"] } : {}),
  });
  expect(reg.extensions).toEqual(ack ? ["batch", "ack"] : ["batch"]);
  expect(reg.has_psrd).toBe(true);
  return mirror;
}

async function post(hub: Hub, carol: ClientMirror, value: Uint8Array, extra: Record<string, unknown> = {}, keyId = KEY) {
  const enc = await encryptShare(carol, value);
  await hub.postShare({
    master_client_name: carol.name,
    master_sae_id: "sam",
    slave_sae_id: "sunny",
    user_key_id: keyId,
    share_index: 3,
    ...enc,
    ...extra,
  });
}

async function notFound(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  expect((err as HubError).kind).toBe("not_found");
}

const q = (keyId = KEY) => ({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: keyId });

describe("ack extension", () => {
  let hub: Hub;
  let carol: ClientMirror;
  let curtis: ClientMirror;
  let celia: ClientMirror;
  let now: number;

  beforeEach(async () => {
    now = 2_000_000;
    hub = await openHub({ now: () => now });
    carol = await onboard(hub, "carol", ["sam"], true);
    curtis = await onboard(hub, "curtis", ["sunny"], true);
    celia = await onboard(hub, "celia", ["serena"], true);
  });
  afterEach(async () => {
    await hub.close();
  });

  test("a released, unacknowledged share is re-fetchable by the same client with a fresh pad; acknowledged → gone", async () => {
    const share = bytes(48, 41);
    await post(hub, carol, share);
    const pool = defined(hub.client("curtis")).hubOwnedPool;
    const first = await hub.getShare(q());
    expect(hub.shareCount).toBe(1);
    expect(hub.status().shares[0]).toMatchObject({ key_id: KEY, fetched_by: ["curtis"], acked_by: [], pending_ack: ["curtis"] });
    expect(JSON.stringify(hub.status())).not.toContain(Buffer.from(share).toString("base64"));
    // The client "crashed": it fetches again with a new request, getting a fresh allocation.
    const usedBefore = pool.stats().used;
    const again = await hub.fetchShares("curtis", [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }]);
    expect(pool.stats().used - usedBefore).toBeGreaterThanOrEqual(48);
    expect(again.encryption_key_allocation).toBeDefined();
    expect(again.encryption_key_allocation).not.toEqual(first.encryption_key_allocation);
    expect(again.shares[0].encrypted_share_value).not.toBe(first.encrypted_share_value);
    const p1 = await decryptShare(curtis, first.encryption_key_allocation, first.encrypted_share_value);
    const [p2] = await decryptBatch(curtis, defined(again.encryption_key_allocation), [again.shares[0].encrypted_share_value]);
    expect(Buffer.from(p1)).toEqual(Buffer.from(share));
    expect(Buffer.from(p2)).toEqual(Buffer.from(share));

    // Acknowledge (ack-only message): deleted at once, never served again.
    const acked = await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }]);
    expect(acked).toEqual({ shares: [], missing: [], acknowledged: 1 });
    expect(hub.shareCount).toBe(0);
    await notFound(hub.getShare(q()));
    // Acks are idempotent: a repeated ack changes nothing.
    expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(0);
  });

  test("acks ride on a fetch: applied before the keys are served; foreign acks are ignored", async () => {
    await post(hub, carol, bytes(48, 42));
    await post(hub, carol, bytes(48, 43), {}, KEY2);
    await hub.getShare(q());
    // Another client's ack does not count (celia hosts no intended slave SAE), nor a wrong master SAE.
    expect((await hub.fetchShares("celia", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(0);
    expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "serena", key_id: KEY }])).acknowledged).toBe(0);
    expect(hub.shareCount).toBe(2);
    const res = await hub.fetchShares(
      "curtis",
      [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY2 }],
      [{ master_sae_id: "sam", key_id: KEY }],
    );
    expect(res.acknowledged).toBe(1);
    expect(res.shares.map((s) => s.key_id)).toEqual([KEY2]);
    expect(hub.status().shares.map((s) => [s.key_id, s.pending_ack])).toEqual([[KEY2, ["curtis"]]]);
    // Acknowledged twice counts once.
    expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(0);
    expect(hub.shareCount).toBe(1);
  });

  test("an intended responder may acknowledge a share it never fetched here (it got the key from other hubs): dropped now, not at the timeout", async () => {
    await post(hub, carol, bytes(48, 48));
    await post(hub, carol, bytes(48, 49), {}, KEY2);
    // celia hosts no intended slave SAE: her ack of an unfetched share is ignored.
    expect((await hub.fetchShares("celia", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(0);
    expect(hub.shareCount).toBe(2);
    // curtis hosts sunny, the intended slave SAE: he is done with KEY without fetching it here.
    expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(1);
    expect(hub.shareCount).toBe(1);
    expect(hub.status().shares.map((s) => s.key_id)).toEqual([KEY2]);
    // Never served afterwards, and no hub-owned PSRD spent on it.
    const used = defined(hub.client("curtis")).hubOwnedPool.stats().used;
    const again = await hub.fetchShares("curtis", [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }]);
    expect(again.missing).toEqual([KEY]);
    expect(again.shares).toEqual([]);
    expect(defined(hub.client("curtis")).hubOwnedPool.stats().used - used).toBeLessThanOrEqual(32); // only the message tags
  });

  test("a pending share is still refused to any other client", async () => {
    await post(hub, carol, bytes(32, 44));
    await hub.getShare(q());
    const celiaPool = defined(hub.client("celia")).hubOwnedPool.stats().used;
    await notFound(hub.getShare({ ...q(), client_name: "celia" }));
    await notFound(hub.getShare({ ...q(), client_name: "celia", slave_sae_id: "serena" }));
    const batch = await hub.fetchShares("celia", [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }]);
    expect(batch).toEqual({ shares: [], missing: [KEY] });
    expect(defined(hub.client("celia")).hubOwnedPool.stats().used).toBe(celiaPool);
    expect(hub.shareCount).toBe(1);
    expect(celia.name).toBe("celia");
  });

  test("a v1 client (no ack extension) keeps delete-on-fetch", async () => {
    const v1 = await onboard(hub, "cora", ["sofia"], false);
    expect(hub.status().peer_clients.find((c) => c.client_name === "cora")?.extensions).toEqual([]);
    const share = bytes(48, 45);
    await post(hub, carol, share, { slave_sae_id: "sofia" });
    const got = await hub.getShare({ client_name: "cora", master_sae_id: "sam", slave_sae_id: "sofia", key_id: KEY });
    expect(Buffer.from(await decryptShare(v1, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(Buffer.from(share));
    expect(hub.shareCount).toBe(0);
    await notFound(hub.getShare({ client_name: "cora", master_sae_id: "sam", slave_sae_id: "sofia", key_id: KEY }));
  });

  test("re-registering without the extension switches the client back to delete-on-fetch", async () => {
    const reg = await hub.register({ client_name: "curtis", encryptor_names: ["sunny"], auth_scheme: "gf128" });
    expect(reg.extensions).toEqual(["batch"]);
    await post(hub, carol, bytes(48, 46));
    await hub.getShare(q());
    expect(hub.shareCount).toBe(0);
  });

  test("multicast: deleted when the ack client acknowledged and the v1 client fetched", async () => {
    const v1 = await onboard(hub, "cora", ["sofia"], false);
    await post(hub, carol, bytes(48, 47), { additional_slave_sae_ids: ["sofia"] });
    await hub.getShare(q());
    const got = await hub.getShare({ client_name: "cora", master_sae_id: "sam", slave_sae_id: "sofia", key_id: KEY });
    await decryptShare(v1, got.encryption_key_allocation, got.encrypted_share_value);
    expect(hub.shareCount).toBe(1); // curtis has not acknowledged
    expect(hub.status().shares[0].pending_ack).toEqual(["curtis"]);
    // cora (v1) may still fetch it again until deletion, as before.
    await hub.getShare({ client_name: "cora", master_sae_id: "sam", slave_sae_id: "sofia", key_id: KEY });
    expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(1);
    expect(hub.shareCount).toBe(0);
  });

  test("multicast: an acknowledging client is done with its copy; the other client still gets its own", async () => {
    await post(hub, carol, bytes(48, 48), { additional_slave_sae_ids: ["serena"] });
    await hub.getShare(q());
    await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }]);
    expect(hub.shareCount).toBe(1);
    await notFound(hub.getShare(q())); // curtis said it is done
    const got = await hub.getShare({ client_name: "celia", master_sae_id: "sam", slave_sae_id: "serena", key_id: KEY });
    expect(got.share_index).toBe(3);
    expect(hub.shareCount).toBe(1); // celia has not acknowledged yet
    await hub.fetchShares("celia", [], [{ master_sae_id: "sam", key_id: KEY }]);
    expect(hub.shareCount).toBe(0);
  });

  test("the timeout still deletes a share awaiting acknowledgement", async () => {
    await post(hub, carol, bytes(48, 49));
    await hub.getShare(q());
    now += 59_999;
    expect(hub.sweep()).toBe(0);
    await hub.getShare(q());
    now += 1;
    await notFound(hub.getShare(q()));
    expect(hub.sweep()).toBe(1);
    expect(hub.shareCount).toBe(0);
  });
});

describe("ack extension: hub restart", () => {
  const tmp = useTempDir("dske-hub-ack-");

  test("the pending state and the negotiated extension survive a restart; an ack after it deletes", async () => {
    const store = new MemoryStore();
    const now = 7_000_000;
    const hub = await openHub({ stateDir: tmp.path, now: () => now }, store);
    const carol = await onboard(hub, "carol", ["sam"], true);
    const curtis = await onboard(hub, "curtis", ["sunny"], true);
    const share = bytes(48, 50);
    await post(hub, carol, share);
    await post(hub, carol, bytes(48, 51), {}, KEY2);
    const first = await hub.getShare(q());
    await hub.getShare(q(KEY2));
    await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY2 }]);
    await hub.close();

    const reopened = await openHub({ stateDir: tmp.path, now: () => now }, store);
    expect(reopened.client("curtis")?.ack).toBe(true);
    expect(reopened.status().shares.map((s) => [s.key_id, s.pending_ack])).toEqual([[KEY, ["curtis"]]]);
    const again = await reopened.getShare(q());
    expect(again.encryption_key_allocation).not.toEqual(first.encryption_key_allocation);
    expect(Buffer.from(await decryptShare(curtis, again.encryption_key_allocation, again.encrypted_share_value))).toEqual(
      Buffer.from(share),
    );
    expect((await reopened.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(1);
    expect(reopened.shareCount).toBe(0);
    await reopened.close();

    const third = await openHub({ stateDir: tmp.path, now: () => now }, store);
    expect(third.shareCount).toBe(0);
    await notFound(third.getShare(q()));
    await third.close();
  });
});
