/**
 * Reference-client mode, in process over real HTTP (loopback): reference clients (dske-python
 * KMEs), whose requests are built by hand as the reference builds them (reference-wire.ts), and
 * one of our clients (HubApi, gf128) at one hub. Issue 14.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { MemoryStore } from "@dske/psrd";
import { HubApi, type GetKeyShareResponse } from "@dske/protocol";
import { Hub } from "../src/hub";
import { createHubRouter } from "../src/http/router";
import { bytes, decryptShare, encryptShare, expectHubError, provisionMirror, useTempDir, type ProvisionedMirror } from "./helpers";
import { ReferenceWireClient } from "./reference-wire";

const TIMEOUT_SECS = 60;

interface Setup {
  hub: Hub;
  server: Server;
  base: string;
  carol: ReferenceWireClient; // reference, hosts sam
  conny: ReferenceWireClient; // reference, hosts sunny
  curtis: ProvisionedMirror; // ours, hosts sara
  api: HubApi;
}

let clock = 1_000_000;

async function open(store: MemoryStore, stateDir?: string): Promise<{ hub: Hub; server: Server; base: string }> {
  const hub = await Hub.open({
    name: "hank",
    store,
    ...(stateDir ? { stateDir } : {}),
    authSchemes: ["gf128", "hmac-sha256"],
    referenceClients: { names: ["carol", "conny"] },
    shareTimeoutSecs: TIMEOUT_SECS,
    sweepIntervalMs: 0,
    now: () => clock,
  });
  const app = express();
  app.use(createHubRouter({ hub, onError: () => {} }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { hub, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank` };
}

async function setup(store = new MemoryStore(), stateDir?: string): Promise<Setup> {
  const { hub, server, base } = await open(store, stateDir);
  const carol = await ReferenceWireClient.create(base, "carol", ["sam"]);
  const conny = await ReferenceWireClient.create(base, "conny", ["sunny"]);
  await carol.start();
  await conny.start();
  const curtis = await provisionMirror(hub, "curtis", { encryptors: ["sara"], scheme: "gf128" });
  const api = new HubApi(base, { auth: { resolvePeer: () => curtis.peerAuth } });
  return { hub, server, base, carol, conny, curtis, api };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  await new Promise<void>((r) => s.server.close(() => r()));
  await s.hub.close();
}

/** The share our client gets with a single GET, decrypted. */
async function ourGet(s: Setup, keyId: string, slave = "sara"): Promise<Buffer> {
  const share: GetKeyShareResponse = await s.api.getKeyShare({
    client_name: "curtis",
    master_sae_id: "sam",
    slave_sae_id: slave,
    key_id: keyId,
  });
  return decryptShare(s.curtis, share.encryption_key_allocation, share.encrypted_share_value);
}

describe("reference clients at a hub in reference-client mode", () => {
  const tempDir = useTempDir("dske-hub-reference-");
  let s: Setup | undefined;
  afterEach(async () => {
    await teardown(s);
    s = undefined;
  });

  test("register without proof, get PSRD usable at once, and are marked in the status", async () => {
    s = await setup();
    await s.carol.restart(); // a reference client registers again only with fresh (empty) pools
    const again = await s.carol.register();
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ hub_name: "hank", auth_scheme: "hmac-sha256", extensions: ["batch"] });
    await s.carol.requestPsrd("client", 2048);
    await s.carol.requestPsrd("hub", 2048);
    const carol = s.hub.status().peer_clients.find((c) => c.client_name === "carol");
    expect(carol).toMatchObject({
      auth_scheme: "hmac-sha256",
      implementation: "reference",
      enrollment: "unauthenticated (reference mode, from 127.0.0.1, ::1)",
      psrd: { staged: { client: 0, hub: 0, blocks: 0 } },
    });
    expect(carol?.pools.client_owned.size).toBe(2048);
    expect(carol?.pools.hub_owned.size).toBe(2048);
    const curtis = s.hub.status().peer_clients.find((c) => c.client_name === "curtis");
    expect(curtis?.implementation).toBeUndefined();
    // Usable at once: a signed post with the fresh client-owned block is accepted.
    const { res } = await s.carol.postShare(bytes(32, 1));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  test("a reference-body share goes to a second reference client by key ID, then is deleted", async () => {
    s = await setup();
    const value = bytes(32, 2);
    const { keyId, res } = await s.carol.postShare(value, undefined, 3);
    expect(res.status).toBe(200);
    expect(s.hub.status().shares).toEqual([expect.objectContaining({ master_client_name: "carol", key_id: keyId, slave_sae_ids: [] })]);
    const got = await s.conny.getShare(keyId);
    expect(got.res.status).toBe(200);
    expect(got.shareIndex).toBe(3);
    expect(got.value).toEqual(Buffer.from(value));
    // Deleted after the first fetch by a client other than its master (the reference's delete-on-fetch).
    expect(s.hub.shareCount).toBe(0);
    expect((await s.conny.getShare(keyId)).res.status).toBe(404);
    await expect(ourGet(s, keyId)).rejects.toMatchObject({ status: 404 });
  });

  test("our client gets unbound shares (single GET and batch fetch); meta lists them with no slave SAEs", async () => {
    s = await setup();
    const v1 = bytes(32, 3);
    const v2 = bytes(48, 4);
    const k1 = (await s.carol.postShare(v1)).keyId;
    const k2 = (await s.carol.postShare(v2)).keyId;
    const meta = await s.api.shareMeta({ client_name: "curtis", key_ids: [k1, k2] });
    expect(meta.shares).toEqual([
      { key_id: k1, master_sae_id: "carol", slave_sae_ids: [] },
      { key_id: k2, master_sae_id: "carol", slave_sae_ids: [] },
    ]);
    // Our client still names a slave SAE it hosts: "sunny" is conny's.
    await expect(ourGet(s, k1, "sunny")).rejects.toMatchObject({ status: 404 });
    expect(await ourGet(s, k1)).toEqual(Buffer.from(v1));
    const batch = await s.api.getKeyShares({ client_name: "curtis", keys: [{ master_sae_id: "sam", slave_sae_id: "sara", key_id: k2 }] });
    expect(batch.missing).toEqual([]);
    expect(batch.shares.map((x) => x.key_id)).toEqual([k2]);
    const allocation = batch.encryption_key_allocation;
    if (!allocation) throw new Error("no allocation in a batch answer with shares");
    expect(await decryptShare(s.curtis, allocation, batch.shares[0].encrypted_share_value)).toEqual(Buffer.from(v2));
    expect(await s.api.sharesHeld([k1, k2])).toEqual([]);
  });

  test("the master may fetch its own unbound share without deleting it; unfetched, it goes at share_timeout_secs", async () => {
    s = await setup();
    const value = bytes(16, 5);
    const { keyId } = await s.carol.postShare(value);
    const own = await s.carol.getShare(keyId);
    expect(own.value).toEqual(Buffer.from(value));
    expect(s.hub.sharesHeld([keyId])).toEqual([keyId]);
    clock += TIMEOUT_SECS * 1000;
    expect(s.hub.sweep()).toBe(1);
    expect(s.hub.sharesHeld([keyId])).toEqual([]);
    expect((await s.conny.getShare(keyId)).res.status).toBe(404);
  });

  test("our client's share for a reference slave SAE: fetched by that reference client with client_name and key_id only", async () => {
    s = await setup();
    const value = bytes(32, 6);
    const keyId = "0f3c9a50-1111-4222-8333-444455556666";
    await s.api.postKeyShare({
      master_client_name: "curtis",
      master_sae_id: "sara",
      slave_sae_id: "sunny",
      user_key_id: keyId,
      share_index: 2,
      ...(await encryptShare(s.curtis, value)),
    });
    // Bound to sunny (conny's): carol, another reference client, gets nothing.
    expect((await s.carol.getShare(keyId)).res.status).toBe(404);
    const got = await s.conny.getShare(keyId);
    expect(got.res.status).toBe(200);
    expect(got.shareIndex).toBe(2);
    expect(got.value).toEqual(Buffer.from(value));
    expect(s.hub.shareCount).toBe(0); // every intended responder (conny, v1) fetched it
  });

  test("a re-registration starts fresh pools (the old PSRD is gone); the shares it posted stay", async () => {
    s = await setup();
    const value = bytes(32, 7);
    const { keyId } = await s.carol.postShare(value);
    const oldMirror = s.carol.mirror;
    await s.carol.restart();
    expect((await s.carol.register()).status).toBe(200);
    const pools = s.hub.client("carol");
    expect(pools?.clientOwnedPool.stats().size).toBe(0);
    expect(pools?.hubOwnedPool.stats().size).toBe(0);
    // A request signed with the old pools is refused: those blocks are no more.
    const fresh = s.carol.mirror;
    s.carol.mirror = oldMirror;
    expect((await s.carol.postShare(bytes(32, 8))).res.status).toBe(401);
    s.carol.mirror = fresh;
    await s.carol.requestPsrd("client", 1024);
    await s.carol.requestPsrd("hub", 1024);
    expect((await s.carol.postShare(bytes(32, 9))).res.status).toBe(200);
    expect((await s.conny.getShare(keyId)).value).toEqual(Buffer.from(value));
  });

  test("an identical re-post is accepted, a different share under the same key ID is a 409", async () => {
    s = await setup();
    const value = bytes(32, 10);
    const { keyId } = await s.carol.postShare(value);
    expect((await s.carol.postShare(value, keyId)).res.status).toBe(200);
    const other = await s.carol.postShare(bytes(32, 11), keyId);
    expect(other.res.status).toBe(409);
    expect(s.hub.shareCount).toBe(1);
  });

  test("unbound shares survive a hub restart", async () => {
    const store = new MemoryStore(); // kept across the restart, like a FileStore's directory
    s = await setup(store, tempDir.path);
    const value = bytes(32, 12);
    const { keyId } = await s.carol.postShare(value);
    const { curtis, carol, conny } = s;
    await teardown(s);
    s = undefined;
    const reopened = await open(store, tempDir.path);
    s = { ...reopened, carol, conny, curtis, api: new HubApi(reopened.base, { auth: { resolvePeer: () => curtis.peerAuth } }) };
    expect(s.hub.status().shares).toEqual([expect.objectContaining({ key_id: keyId, slave_sae_ids: [] })]);
    expect(await ourGet(s, keyId)).toEqual(Buffer.from(value));
  });

  test("reference clients get no bundles; the option needs hmac-sha256 and the acceptance policy", async () => {
    s = await setup();
    await expectHubError(s.hub.issueBundleBytes("carol", 1024, 1024), "conflict", /reference client/);
    const base = { name: "holly", store: new MemoryStore(), sweepIntervalMs: 0 };
    await expectHubError(Hub.open({ ...base, referenceClients: { names: ["carol"] } }), "bad_request", /hmac-sha256/);
    await expectHubError(
      Hub.open({ ...base, authSchemes: ["hmac-sha256"], acceptClients: ["conny"], referenceClients: { names: ["carol"] } }),
      "bad_request",
      /carol are not in the acceptance policy/,
    );
    await expectHubError(
      Hub.open({ ...base, authSchemes: ["hmac-sha256"], referenceClients: { names: ["carol"], from: ["localhost"] } }),
      "bad_request",
      /invalid hub options/,
    );
  });
});
