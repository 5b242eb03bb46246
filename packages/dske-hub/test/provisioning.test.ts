/**
 * PSRD provisioning at the hub (issue 12): sealed bundles issued for one client (the first one
 * registers it), client-owned blocks usable at once, hub-owned blocks staged until the client
 * confirms them, the bundle chain (seq, chain key) across a restart, the acceptance policy and
 * the caps; and the HTTP surface: who may register, unregister, fetch PSRD over the network,
 * confirm blocks and issue bundles. Every refusal leaves the hub's state as it was.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import path from "node:path";
import express from "express";
import request from "supertest";
import { FileStore, MemoryStore, type PsrdStore } from "@dske/psrd";
import { signRequest, verifyResponse, type PeerAuth } from "@dske/auth";
import { BundleError, openBundle, readBundleFile, type OpenedBundle } from "@dske/distributor";
import { Hub } from "../src/hub";
import type { HubOptions } from "../src/hub-options";
import { capturingLogger, HubApi, type IssueBundleResponse, type RegistrationResponse } from "@dske/protocol";
import { poolNames } from "../src/peer-client";
import { createHubRouter } from "../src/http/router";
import {
  bytes,
  clientMirror,
  decryptShare,
  encryptShare,
  installOpened,
  provisionMirror,
  type ProvisionedMirror,
  useTempDir,
  expectHubError,
  apiError,
  defined,
  errorBody,
} from "./helpers";

const P = "/hub/hank";
const TOKEN = "operator-token-for-provisioning-tests";
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const JSON_TYPE = { "Content-Type": "application/json" };
const KEY = "6c1d2e3f-0000-4000-8000-0000000000b1";
const KEY2 = "6c1d2e3f-0000-4000-8000-0000000000b2";

async function openHub(extra: Partial<HubOptions> = {}, store: PsrdStore = new MemoryStore()): Promise<Hub> {
  return Hub.open({ name: "hank", store, sweepIntervalMs: 0, shareTimeoutSecs: 60, ...extra });
}

function expectBundleError(fn: () => unknown, code: BundleError["code"]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BundleError);
  expect((err as BundleError).code).toBe(code);
}

/** What a refusal must leave unchanged: clients, encryptors, pools, staged PSRD, bundle counts, shares. */
function accounting(hub: Hub): string {
  const st = hub.status();
  return JSON.stringify({
    clients: st.peer_clients.map((c) => [c.client_name, c.encryptor_names, c.auth_scheme, c.extensions, c.pools, c.psrd]),
    shares: st.shares,
  });
}

/** The first bundle of `name`, issued in process and opened (trusted physically). */
async function firstBundle(hub: Hub, name: string, clientOwned = 1000, hubOwned = 1000): Promise<OpenedBundle> {
  const sealed = await hub.issueBundleBytes(name, clientOwned, hubOwned);
  try {
    return openBundle(sealed, { clientName: name, hubName: hub.name, expectedSeq: 1 });
  } finally {
    sealed.fill(0);
  }
}

/** The hub behind its router, listening on loopback (HubApi needs a URL). */
async function serve(hub: Hub): Promise<{ app: express.Express; url: string; close(): Promise<void> }> {
  const app = express();
  app.use(createHubRouter({ hub, operatorToken: TOKEN, onError: () => undefined }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${P}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * `DELETE registration?client_name=<name>` signed with `peer` (request and response signatures
 * checked as HubApi does), sent with `Content-Type: application/json`. By hand because
 * HubApi.unregisterSigned sends no Content-Type, which the hub refuses (415) like any non-JSON write.
 */
async function signedUnregister(url: string, peer: PeerAuth, clientName: string): Promise<{ status: number; body: unknown }> {
  const target = new URL(`${url}/dske/oob/v1/registration?client_name=${encodeURIComponent(clientName)}`);
  const signed = await signRequest(peer, {
    method: "DELETE",
    path: target.pathname,
    query: target.search.slice(1),
    body: new Uint8Array(0),
  });
  const res = await fetch(target, { method: "DELETE", headers: { "DSKE-Signature": signed.header, "Content-Type": "application/json" } });
  const body = new Uint8Array(await res.arrayBuffer());
  const header = res.headers.get("dske-signature") ?? undefined;
  if (res.ok || header !== undefined) {
    const { committed } = await verifyResponse(peer, {
      status: res.status,
      header,
      body,
      requestTag: signed.requestTag,
      path: target.pathname,
    });
    await committed;
  }
  return { status: res.status, body: JSON.parse(Buffer.from(body).toString("utf8")) as unknown };
}

// ---------------------------------------------------------------------------------------------- domain

describe("bundles at the hub (domain)", () => {
  test("issue → open: client-owned blocks usable at once, hub-owned staged until the client confirms; seq and chain key", async () => {
    const hub = await openHub();
    const carol = await provisionMirror(hub, "carol", { encryptors: ["sam"], bytes: 4096 });

    // curtis's first bundle: it registers him (hub's preferred scheme) and carries his enrollment secret.
    const first = await firstBundle(hub, "curtis", 1000, 2000);
    expect(first.header).toMatchObject({ v: 1, hub_name: "hank", client_name: "curtis", seq: 1, auth_scheme: "gf128" });
    expect(first.header.enrollment_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(first.blocks.map((b) => [b.pool_owner, b.key_prefix, b.data.length])).toEqual([
      ["client", 16, 1016],
      ["hub", 16, 2016],
    ]);
    expect(hub.client("curtis")?.authScheme).toBe("gf128");
    expect(hub.checkEnrollmentSecret("curtis", defined(first.header.enrollment_secret))).toBe(true);
    expect(hub.checkEnrollmentSecret("carol", defined(first.header.enrollment_secret))).toBe(false);
    const curtis = await clientMirror("curtis", "gf128");
    const uuids = await installOpened(curtis, first);
    await hub.register({ client_name: "curtis", encryptor_names: ["sunny"], auth_scheme: "gf128" });
    const st = () => defined(hub.status().peer_clients.find((c) => c.client_name === "curtis"));
    expect(st().pools).toEqual({
      client_owned: { blocks: 1, size: 1016, used: 16, available: 1000 },
      hub_owned: { blocks: 0, size: 0, used: 0, available: 0 },
    });
    expect(st().psrd).toEqual({ bundles_issued: 1, staged: { client: 0, hub: 2000, blocks: 1 } });

    // Client-owned PSRD is usable at once: curtis posts a share (as master) before confirming anything.
    const mine = await encryptShare(curtis, bytes(32, 1));
    await hub.postShare({
      master_client_name: "curtis",
      master_sae_id: "sunny",
      slave_sae_id: "sam",
      user_key_id: KEY2,
      share_index: 1,
      ...mine,
    });
    expect(hub.status().shares.map((s) => s.key_id)).toEqual([KEY2]);

    // Hub-owned PSRD is not: a share for curtis cannot be encrypted for him yet (and is not marked fetched).
    const share = bytes(48, 2);
    const enc = await encryptShare(carol, share);
    await hub.postShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    const q = { client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY };
    await expectHubError(hub.getShare(q), "exhausted", /hub-owned pool of curtis .*request more PSRD/);
    expect(hub.status().shares.find((s) => s.key_id === KEY)?.fetched_by).toEqual([]);

    // Only curtis can confirm his blocks; unknown UUIDs are ignored.
    expect(await hub.confirmPsrd("carol", uuids.hub)).toBe(0);
    expect(await hub.confirmPsrd("curtis", ["00000000-0000-4000-8000-00000000dead"])).toBe(0);
    expect(st().psrd?.staged.blocks).toBe(1);
    expect(await hub.confirmPsrd("curtis", uuids.hub)).toBe(1);
    expect(st().psrd).toEqual({ bundles_issued: 1, staged: { client: 0, hub: 0, blocks: 0 } });
    expect(st().pools.hub_owned).toMatchObject({ blocks: 1, size: 2016 });
    const got = await hub.getShare(q);
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(Buffer.from(share));

    // Bundle 2 opens only with the chain key that came in bundle 1, and only as seq 2.
    const sealed2 = await hub.issueBundleBytes("curtis", 300, 400);
    expectBundleError(
      () => openBundle(sealed2, { clientName: "curtis", hubName: "hank", expectedSeq: 2, chainKey: new Uint8Array(32) }),
      "bad_tag",
    );
    expectBundleError(() => openBundle(sealed2, { clientName: "curtis", hubName: "hank", expectedSeq: 1 }), "out_of_order");
    expectBundleError(
      () => openBundle(sealed2, { clientName: "carol", hubName: "hank", expectedSeq: 2, chainKey: first.nextChainKey }),
      "wrong_client",
    );
    const second = openBundle(sealed2, { clientName: "curtis", hubName: "hank", expectedSeq: 2, chainKey: first.nextChainKey });
    expect(second.header.seq).toBe(2);
    expect(second.header.enrollment_secret).toBeUndefined();
    expect(st().psrd).toEqual({ bundles_issued: 2, staged: { client: 0, hub: 400, blocks: 1 } });
    expect(st().pools.client_owned.available).toBe(1000 - 32 + 300); // 32 used by curtis's share pad
    // Bundle 3 needs bundle 2's key; bundle 1's does not verify.
    const sealed3 = await hub.issueBundleBytes("curtis", 100, 0);
    expectBundleError(
      () => openBundle(sealed3, { clientName: "curtis", hubName: "hank", expectedSeq: 3, chainKey: first.nextChainKey }),
      "bad_tag",
    );
    expect(openBundle(sealed3, { clientName: "curtis", hubName: "hank", expectedSeq: 3, chainKey: second.nextChainKey }).header.seq).toBe(
      3,
    );
    for (const s of [sealed2, sealed3]) s.fill(0);
    await hub.close();
  });

  test("bundle options: the scheme of a first bundle is the hub's preferred one unless asked (and allowed); bad sizes are 400", async () => {
    const hub = await openHub({ authSchemes: ["gf128", "hmac-sha256"] });
    expect((await firstBundle(hub, "carol")).header.auth_scheme).toBe("gf128");
    const sealed = await hub.issueBundleBytes("conny", 100, 100, { authScheme: "hmac-sha256" });
    const opened = openBundle(sealed, { clientName: "conny", hubName: "hank", expectedSeq: 1 });
    expect(opened.header.auth_scheme).toBe("hmac-sha256");
    expect(opened.blocks.map((b) => b.key_prefix)).toEqual([0, 0]);
    expect(hub.client("conny")?.authScheme).toBe("hmac-sha256");
    const before = accounting(hub);
    await expectHubError(hub.issueBundleBytes("carol", 0, 0), "bad_request", /above 0/);
    await expectHubError(hub.issueBundleBytes("carol", -1, 10), "bad_request", /client_owned_bytes/);
    await expectHubError(hub.issueBundleBytes("carol", 1.5, 10), "bad_request", /client_owned_bytes/);
    expect(accounting(hub)).toBe(before);
    await hub.close();

    const strict = await openHub(); // gf128 only
    await expectHubError(strict.issueBundleBytes("conny", 100, 100, { authScheme: "hmac-sha256" }), "bad_request", /not allowed/);
    expect(strict.status().peer_clients).toEqual([]);
    await strict.close();
  });

  test("acceptance policy: no bundle and no registration for a client outside it (403); nothing is created", async () => {
    const store = new MemoryStore();
    const hub = await openHub({ acceptClients: ["carol", "curtis"] }, store);
    expect(hub.accepts("carol")).toBe(true);
    expect(hub.accepts("mallory")).toBe(false);
    await expectHubError(hub.issueBundleBytes("mallory", 100, 100), "forbidden", /mallory is not in the acceptance policy of hub hank/);
    await expectHubError(
      hub.register({ client_name: "mallory", encryptor_names: ["eve"], auth_scheme: "gf128" }),
      "forbidden",
      /acceptance policy/,
    );
    expect(hub.status().peer_clients).toEqual([]);
    expect(await store.listPools()).toEqual([]);
    await provisionMirror(hub, "carol");
    expect(hub.status().peer_clients.map((c) => c.client_name)).toEqual(["carol"]);
    expect(await store.listPools()).not.toContain(poolNames("mallory").clientOwned);
    await hub.close();
  });

  test("cap max_clients: a further client gets 409 with a message and nothing is created; room again after an unregistration", async () => {
    const store = new MemoryStore();
    const hub = await openHub({ maxClients: 2 }, store);
    await provisionMirror(hub, "carol");
    await provisionMirror(hub, "curtis");
    const before = accounting(hub);
    const pools = await store.listPools();
    await expectHubError(hub.issueBundleBytes("dora", 100, 100), "conflict", /already has its maximum of 2 registered clients/);
    await expectHubError(hub.register({ client_name: "dora", encryptor_names: [], auth_scheme: "gf128" }), "conflict", /maximum of 2/);
    expect(accounting(hub)).toBe(before);
    expect(await store.listPools()).toEqual(pools);
    // Bundles for clients already registered are not limited by it.
    (await hub.issueBundleBytes("carol", 100, 0)).fill(0);
    expect(await hub.unregister("curtis")).toBe(true);
    await provisionMirror(hub, "dora");
    expect(hub.status().peer_clients.map((c) => c.client_name)).toEqual(["carol", "dora"]);
    await hub.close();
  });

  test("cap max_pool_bytes: available plus staged bytes per pool; past it 409 with a message, pools and staging unchanged", async () => {
    const hub = await openHub({ maxPoolBytes: 10_000 });
    await provisionMirror(hub, "carol", { bytes: 6000 });
    const before = accounting(hub);
    await expectHubError(
      hub.issueBundleBytes("carol", 5000, 0),
      "conflict",
      /client-owned pool of carol would hold 11000 bytes, above this hub's cap of 10000 \(max_pool_bytes\)/,
    );
    await expectHubError(hub.issueBundleBytes("carol", 0, 5000), "conflict", /hub-owned pool of carol would hold 11000 bytes/);
    await expectHubError(hub.issueBundleBytes("carol", 4000, 4001), "conflict", /max_pool_bytes/); // all or nothing
    await expectHubError(hub.issueBundleBytes("carol", 10_001, 0), "bad_request", /0 to 10000/);
    expect(accounting(hub)).toBe(before);
    // Up to the cap is fine; staged (unconfirmed) hub-owned bytes count too.
    (await hub.issueBundleBytes("carol", 4000, 4000)).fill(0);
    const carol = hub.status().peer_clients[0];
    expect([carol.pools.client_owned.available, carol.pools.hub_owned.available, carol.psrd?.staged.hub]).toEqual([10_000, 6000, 4000]);
    const full = accounting(hub);
    await expectHubError(hub.issueBundleBytes("carol", 0, 1), "conflict", /hub-owned pool of carol would hold 10001 bytes/);
    await expectHubError(hub.issueBundleBytes("carol", 1, 0), "conflict", /client-owned pool of carol would hold 10001 bytes/);
    expect(accounting(hub)).toBe(full);
    await hub.close();
  });

  test("cap max_pool_blocks: live plus staged blocks; past it 409 with a message, nothing added", async () => {
    const hub = await openHub({ maxPoolBlocks: 2 });
    await provisionMirror(hub, "carol", { bytes: 100 }); // one block per pool
    (await hub.issueBundleBytes("carol", 100, 0)).fill(0); // client-owned: 2 blocks
    const before = accounting(hub);
    await expectHubError(
      hub.issueBundleBytes("carol", 100, 0),
      "conflict",
      /client-owned pool of carol would hold more than 2 blocks \(max_pool_blocks\)/,
    );
    expect(accounting(hub)).toBe(before);
    expect(hub.status().peer_clients[0].pools.client_owned.blocks).toBe(2);
    await hub.close();

    const hub2 = await openHub({ maxPoolBlocks: 2 });
    await provisionMirror(hub2, "carol", { bytes: 100 });
    (await hub2.issueBundleBytes("carol", 0, 100)).fill(0); // hub-owned: 1 live + 1 staged
    const before2 = accounting(hub2);
    await expectHubError(hub2.issueBundleBytes("carol", 0, 100), "conflict", /hub-owned pool of carol would hold more than 2 blocks/);
    expect(accounting(hub2)).toBe(before2);
    expect(hub2.status().peer_clients[0].psrd?.staged.blocks).toBe(1);
    await hub2.close();
  });

  test("network delivery (psrd_delivery: network): blocks staged until confirmed, counted against the caps", async () => {
    const hub = await openHub({ psrdDelivery: "network", maxPoolBytes: 1000 });
    await provisionMirror(hub, "carol", { bytes: 500 });
    const block = await hub.createPsrdBlock("carol", "hub", 416); // 400 usable
    const st = () => hub.status().peer_clients[0];
    expect(st().psrd?.staged).toEqual({ client: 0, hub: 400, blocks: 1 });
    expect(defined(hub.client("carol")).hubOwnedPool.hasBlock(block.blockUuid)).toBe(false);
    const before = accounting(hub);
    await expectHubError(hub.createPsrdBlock("carol", "hub", 117), "conflict", /hub-owned pool of carol would hold 1001 bytes/);
    expect(accounting(hub)).toBe(before);
    expect(await hub.confirmPsrd("carol", [block.blockUuid])).toBe(1);
    expect(st().pools.hub_owned.available).toBe(900);
    block.data.fill(0);
    await hub.close();
  });
});

describe("bundles at a hub with a state dir (FileStore)", () => {
  const tmp = useTempDir("dske-hub-provisioning-");

  test("the bundle file lands in <stateDir>/outbox with mode 0600; a restart keeps the chain and the staged blocks", async () => {
    const stateDir = path.join(tmp.path, "state");
    const open = async () => {
      const store = await FileStore.open(path.join(tmp.path, "psrd"));
      const hub = await Hub.open({ name: "hank", store, stateDir, sweepIntervalMs: 0 });
      return { store, hub };
    };
    let node = await open();
    const issued = await node.hub.issueBundle("carol", 1000, 1500);
    expect(issued).toMatchObject({ hubName: "hank", clientName: "carol", seq: 1, clientOwnedBytes: 1000, hubOwnedBytes: 1500, blocks: 2 });
    const outbox = path.join(stateDir, "outbox");
    expect(issued.file).toBe(path.join(outbox, "hank-carol-000001.psrd"));
    expect(statSync(issued.file).mode & 0o777).toBe(0o600);
    expect(statSync(outbox).mode & 0o077).toBe(0);
    const first = openBundle(await readBundleFile(issued.file), { clientName: "carol", hubName: "hank", expectedSeq: 1 });
    const hubBlock = defined(first.blocks.find((b) => b.pool_owner === "hub"));
    const hubBytes = Buffer.from(hubBlock.data.subarray(16));
    const secret = defined(first.header.enrollment_secret);
    await node.hub.close();
    await node.store.close();

    // Restart on the same directories.
    node = await open();
    const carol = () => defined(node.hub.status().peer_clients.find((c) => c.client_name === "carol"));
    expect(carol().psrd).toEqual({ bundles_issued: 1, staged: { client: 0, hub: 1500, blocks: 1 } });
    expect(carol().pools.client_owned.available).toBe(1000);
    expect(node.hub.checkEnrollmentSecret("carol", secret)).toBe(true);
    // The staged hub-owned block is confirmed after the restart and then used with the bundle's bytes.
    expect(await node.hub.confirmPsrd("carol", [hubBlock.block_uuid])).toBe(1);
    const alloc = await defined(node.hub.client("carol")).hubOwnedPool.allocate(1500, "test");
    expect(alloc.allocation.fragments.map((f) => f.blockUuid)).toEqual([hubBlock.block_uuid]);
    expect(Buffer.from(alloc.data)).toEqual(hubBytes);
    // The next bundle is seq 2 and opens with the chain key of bundle 1.
    const next = await node.hub.issueBundle("carol", 200, 0);
    expect(next.seq).toBe(2);
    expect(next.file).toBe(path.join(outbox, "hank-carol-000002.psrd"));
    expect(statSync(next.file).mode & 0o777).toBe(0o600);
    const bytes2 = await readBundleFile(next.file);
    expectBundleError(
      () => openBundle(bytes2, { clientName: "carol", hubName: "hank", expectedSeq: 2, chainKey: new Uint8Array(32).fill(7) }),
      "bad_tag",
    );
    expect(openBundle(bytes2, { clientName: "carol", hubName: "hank", expectedSeq: 2, chainKey: first.nextChainKey }).header.seq).toBe(2);
    expect(readdirSync(outbox).sort()).toEqual(["hank-carol-000001.psrd", "hank-carol-000002.psrd"]); // no temporary files left
    await node.hub.close();
    await node.store.close();
  });

  test("confirmation after a crash mid-move: a block copied but not yet unstaged is confirmed once; a lost staged copy is dropped, not a 400 forever", async () => {
    const stateDir = path.join(tmp.path, "state");
    const logger = capturingLogger();
    const open = async () => {
      const store = await FileStore.open(path.join(tmp.path, "psrd"));
      const hub = await Hub.open({ name: "hank", store, stateDir, sweepIntervalMs: 0, logger });
      return { store, hub };
    };
    let node = await open();
    const hubBlockOf = async (seq: number) => {
      const issued = await node.hub.issueBundle("carol", seq === 1 ? 100 : 0, 600);
      const opened = openBundle(await readBundleFile(issued.file), { clientName: "carol", hubName: "hank", expectedSeq: seq, chainKey });
      chainKey = opened.nextChainKey;
      const b = defined(opened.blocks.find((x) => x.pool_owner === "hub"));
      return { uuid: b.block_uuid, keyPrefix: b.key_prefix, data: Uint8Array.from(b.data) };
    };
    let chainKey: Uint8Array | undefined;
    const moved = await hubBlockOf(1); // crash after the copy into the pool, before the staged copy was consumed
    const lost = await hubBlockOf(2); // crash of an earlier version: staged copy consumed, never copied
    const intact = await hubBlockOf(3);
    await node.hub.close();
    await node.store.close();

    // Make both crash states by hand on the stores the hub left behind.
    {
      const store = await FileStore.open(path.join(tmp.path, "psrd"));
      const staging = await store.openPool("staged.carol", "peer");
      const pool = await store.openPool("hub-owned.carol", "local");
      await pool.addBlock(moved.uuid, moved.data, { keyPrefix: moved.keyPrefix });
      (await staging.take({ fragments: [{ blockUuid: lost.uuid, start: 0, size: lost.data.length }] }, "test: crash")).fill(0);
      await store.close();
    }

    node = await open();
    const carol = () => defined(node.hub.status().peer_clients.find((c) => c.client_name === "carol"));
    expect(carol().psrd?.staged.blocks).toBe(3);
    // Before the fix the lost block made every confirmation of this client fail with 400.
    expect(await node.hub.confirmPsrd("carol", [moved.uuid, lost.uuid, intact.uuid])).toBe(2);
    expect(carol().psrd?.staged.blocks).toBe(0);
    expect(logger.lines).toContainEqual({
      level: "warn",
      message: "staged PSRD block lost before its confirmation; dropped",
      fields: { client: "carol", block: lost.uuid, err: expect.any(String) as unknown },
    });
    const pool = defined(node.hub.client("carol")).hubOwnedPool;
    expect([pool.hasBlock(moved.uuid), pool.hasBlock(lost.uuid), pool.hasBlock(intact.uuid)]).toEqual([true, false, true]);
    // Both staged copies are consumed: nothing left to move twice.
    const staging = await node.store.openPool("staged.carol", "peer");
    for (const b of [moved, intact]) {
      await expect(staging.take({ fragments: [{ blockUuid: b.uuid, start: 0, size: b.data.length }] }, "test")).rejects.toMatchObject({
        code: "consumed",
      });
    }
    expect(await node.hub.confirmPsrd("carol", [moved.uuid, lost.uuid, intact.uuid])).toBe(0); // idempotent
    await node.hub.close();
    await node.store.close();
  });

  test("a hub without a state dir or outbox cannot write bundle files (503); nothing is issued", async () => {
    const hub = await openHub();
    await expectHubError(hub.issueBundle("carol", 100, 100), "unavailable", /no state directory or outbox/);
    expect(hub.status().peer_clients.every((c) => c.psrd?.bundles_issued === 0)).toBe(true);
    await hub.close();
  });
});

// ---------------------------------------------------------------------------------------------- HTTP

describe("registration over HTTP: who may register and unregister", () => {
  let hub: Hub;
  let srv: Awaited<ReturnType<typeof serve>>;
  beforeEach(async () => {
    hub = await openHub({ acceptClients: ["carol", "curtis", "dora"] });
    srv = await serve(hub);
  });
  afterEach(async () => {
    await srv.close();
    await hub.close();
  });

  const put = () => request(srv.app).put(`${P}/dske/oob/v1/registration`);

  test("unsigned without a credential → 401 (status unchanged); operator token → 200; enrollment secret (its own only) → 200; outside the policy → 403", async () => {
    const carol = await firstBundle(hub, "carol");
    const curtis = await firstBundle(hub, "curtis");
    const secret = defined(carol.header.enrollment_secret);
    const body = { client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" };
    const before = accounting(hub);
    const none = await put().send(body).expect(401);
    expect(errorBody(none).message).toMatch(/registration of client carol needs proof of identity/);
    expect(errorBody(none).details).toEqual([{ header: "Authorization" }]);
    await put()
      .set({ Authorization: `Bearer ${curtis.header.enrollment_secret}` })
      .send(body)
      .expect(401); // another client's secret
    // its own secret with the last character changed (to another one: a secret ending in "0" made
    // this "wrong" secret the right one, 1 run in 16 or so)
    const wrongSecret = `${secret.slice(0, -1)}${secret.endsWith("0") ? "1" : "0"}`;
    expect(wrongSecret).not.toBe(secret);
    await put()
      .set({ Authorization: `Bearer ${wrongSecret}` })
      .send(body)
      .expect(401);
    await put()
      .set({ Authorization: `Basic ${Buffer.from(`carol:${secret}`).toString("base64")}` })
      .send(body)
      .expect(401);
    await put()
      .set({ Authorization: `Bearer ${secret}` })
      .send({ client_name: "dora", encryptor_names: ["dan"], auth_scheme: "gf128" })
      .expect(401);
    expect(accounting(hub)).toBe(before);
    expect(hub.client("dora")).toBeUndefined();

    const bySecret = await put()
      .set({ Authorization: `Bearer ${secret}` })
      .send(body)
      .expect(200);
    expect(bySecret.body).toEqual({
      hub_name: "hank",
      auth_scheme: "gf128",
      extensions: ["batch"],
      share_timeout_secs: 60,
      has_psrd: true,
    });
    expect(hub.client("carol")?.encryptorNames).toEqual(["sam"]);
    const byOperator = await put()
      .set(AUTH)
      .send({ client_name: "dora", encryptor_names: ["dan"], auth_scheme: "gf128" })
      .expect(200);
    expect((byOperator.body as RegistrationResponse).has_psrd).toBe(false);
    expect(hub.client("dora")?.encryptorNames).toEqual(["dan"]);

    // Outside the acceptance policy even the operator gets 403, and nothing is created.
    const outside = accounting(hub);
    const refused = await put()
      .set(AUTH)
      .send({ client_name: "mallory", encryptor_names: ["eve"], auth_scheme: "gf128" })
      .expect(403);
    expect(errorBody(refused).message).toMatch(/mallory is not in the acceptance policy/);
    expect(accounting(hub)).toBe(outside);
  });

  test("signed registration (DSKE-Signature with the client's bundle PSRD) → 200 and a signed answer; a forger → 401, nothing changed", async () => {
    const curtis = await provisionMirror(hub, "curtis", { encryptors: [] });
    const api = new HubApi(srv.url, { auth: { resolvePeer: () => curtis.peerAuth } });
    const reg = await api.registerSigned({
      client_name: "curtis",
      encryptor_names: ["sunny", "susan"],
      auth_scheme: "gf128",
      extensions: ["ack"],
    });
    expect(reg).toEqual({ hub_name: "hank", auth_scheme: "gf128", extensions: ["batch", "ack"], share_timeout_secs: 60, has_psrd: true });
    expect(hub.client("curtis")?.encryptorNames.sort()).toEqual(["sunny", "susan"]);
    expect(hub.client("curtis")?.ack).toBe(true);

    // Signed with PSRD the hub never issued to curtis: refused, and the registration stays as it was.
    const forger = await clientMirror("curtis", "gf128");
    await forger.local.addBlock("00000000-0000-4000-8000-0000000000f1", bytes(4096, 3), { keyPrefix: 16 });
    const forgedApi = new HubApi(srv.url, { auth: { resolvePeer: () => forger.peerAuth } });
    const before = accounting(hub);
    const e = await apiError(forgedApi.registerSigned({ client_name: "curtis", encryptor_names: ["eve"], auth_scheme: "gf128" }));
    expect(e.status).toBe(401);
    expect(accounting(hub)).toBe(before);
    // Signed by a client that is not provisioned at all (no PSRD at this hub): 401.
    const stranger = new HubApi(srv.url, { auth: { resolvePeer: () => forger.peerAuth } });
    expect((await apiError(stranger.registerSigned({ client_name: "dora", encryptor_names: [], auth_scheme: "gf128" }))).status).toBe(401);
    expect(hub.client("dora")).toBeUndefined();
    for (const a of [api, forgedApi, stranger]) a.close();
  });

  test("DELETE registration: another client's unsigned or signed request → 401, still registered; the client itself (signed) or the operator unregisters it", async () => {
    const carol = await provisionMirror(hub, "carol", { encryptors: ["sam"] });
    const curtis = await provisionMirror(hub, "curtis", { encryptors: ["sunny"] });
    const del = (name: string) => request(srv.app).delete(`${P}/dske/oob/v1/registration?client_name=${name}`).set(JSON_TYPE);
    const before = accounting(hub);
    const none = await del("carol").expect(401);
    expect(errorBody(none).message).toMatch(/only client carol itself \(signed\) or the operator may unregister it/);
    await del("carol")
      .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
      .expect(401); // the secret registers, it does not unregister
    await del("carol")
      .set({ Authorization: `Bearer ${curtis.enrollmentSecret}` })
      .expect(401);
    expect((await signedUnregister(srv.url, curtis.peerAuth, "carol")).status).toBe(401); // curtis's PSRD does not sign for carol
    await request(srv.app).delete(`${P}/mgmt/v1/registration?client_name=carol`).set(JSON_TYPE).expect(401); // operator route, no token
    await request(srv.app)
      .delete(`${P}/mgmt/v1/registration?client_name=carol`)
      .set(JSON_TYPE)
      .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
      .expect(403);
    expect(accounting(hub)).toBe(before);
    expect(hub.client("carol")?.encryptorNames).toEqual(["sam"]);

    // The client itself, signed: authorized, curtis is unregistered and the shares he posted go
    // with him (the signed answer itself is checked in the test below).
    const curtisApi = new HubApi(srv.url, { auth: { resolvePeer: () => curtis.peerAuth } });
    const enc = await encryptShare(curtis, bytes(32, 4));
    await curtisApi.postKeyShare({
      master_client_name: "curtis",
      master_sae_id: "sunny",
      slave_sae_id: "sam",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    curtisApi.close();
    expect(hub.shareCount).toBe(1);
    expect((await signedUnregister(srv.url, curtis.peerAuth, "curtis")).status).toBe(200);
    expect(hub.client("curtis")).toBeUndefined();
    expect(hub.shareCount).toBe(0);
    // The operator, on the management route.
    const byOperator = await request(srv.app).delete(`${P}/mgmt/v1/registration?client_name=carol`).set(JSON_TYPE).set(AUTH).expect(200);
    expect(byOperator.body).toEqual({ hub_name: "hank", unregistered: true });
    expect(hub.status().peer_clients).toEqual([]);
    // Unregistration forgets the bundle chain: carol's old enrollment secret no longer registers her.
    await put()
      .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
      .send({ client_name: "carol", auth_scheme: "gf128" })
      .expect(401);
    expect(hub.client("carol")).toBeUndefined();
  });
});

describe("signed unregistration by the client itself", () => {
  // A bodiless DELETE needs no Content-Type, and the hub signs its answer from the client's
  // hub-owned pool before it deletes the pools (then zeroed and deleted).
  test("HubApi.unregisterSigned → 200 {unregistered: true}, signed; the pools are deleted after the answer", async () => {
    const hub = await openHub();
    const srv = await serve(hub);
    try {
      const curtis = await provisionMirror(hub, "curtis", { encryptors: ["sunny"] });
      const api = new HubApi(srv.url, { auth: { resolvePeer: () => curtis.peerAuth } });
      try {
        expect(await api.unregisterSigned("curtis")).toEqual({ hub_name: "hank", unregistered: true });
        expect(hub.client("curtis")).toBeUndefined();
        await waitForPoolsGone(hub, "curtis");
      } finally {
        api.close();
      }
    } finally {
      await srv.close();
      await hub.close();
    }
  });
});

describe.each(["bundle", "network"] as const)("GET psrd over HTTP (psrd_delivery: %s)", (delivery) => {
  let hub: Hub;
  let srv: Awaited<ReturnType<typeof serve>>;
  let carol: ProvisionedMirror;
  let curtis: ProvisionedMirror;
  beforeEach(async () => {
    hub = await openHub({ psrdDelivery: delivery });
    srv = await serve(hub);
    carol = await provisionMirror(hub, "carol", { encryptors: ["sam"] });
    curtis = await provisionMirror(hub, "curtis", { encryptors: ["sunny"] });
  });
  afterEach(async () => {
    await srv.close();
    await hub.close();
  });

  const psrd = (name: string, owner = "hub") =>
    request(srv.app).get(`${P}/dske/oob/v1/psrd?client_name=${name}&pool_owner=${owner}&size=64`);

  test("without the client's own credential → 401 and no block is created", async () => {
    const before = accounting(hub);
    for (const owner of ["client", "hub"]) {
      const none = await psrd("carol", owner).expect(401);
      expect(errorBody(none).message).toMatch(/PSRD of client carol is delivered only to that client/);
      await psrd("carol", owner)
        .set({ Authorization: `Bearer ${curtis.enrollmentSecret}` })
        .expect(401); // another client's secret
      await psrd("carol", owner).set(AUTH).expect(401); // the operator is not the client
      await psrd("nobody", owner)
        .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
        .expect(401);
    }
    expect(accounting(hub)).toBe(before);
  });

  if (delivery === "bundle") {
    test("with the enrollment secret → 403: this hub delivers PSRD only in bundles; nothing is created", async () => {
      const before = accounting(hub);
      const r = await psrd("carol")
        .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
        .expect(403);
      expect(errorBody(r).message).toMatch(/delivers PSRD only in bundles/);
      expect(errorBody(r).details).toEqual([{ field: "psrd_delivery", value: "bundle" }]);
      expect(accounting(hub)).toBe(before);
    });
  } else {
    test("with the enrollment secret → 200; the block is staged (not usable) until a signed psrd-confirm", async () => {
      const api = new HubApi(srv.url, { bearerToken: carol.enrollmentSecret, auth: { resolvePeer: () => carol.peerAuth } });
      const poolsBefore = JSON.stringify(hub.status().peer_clients[0].pools);
      const block = await api.getPsrd({ client_name: "carol", pool_owner: "hub", size: 64 });
      expect(block.data.length).toBe(64);
      const st = () => defined(hub.status().peer_clients.find((c) => c.client_name === "carol"));
      expect(JSON.stringify(st().pools)).toBe(poolsBefore);
      expect(st().psrd?.staged).toEqual({ client: 0, hub: 48, blocks: 1 });
      expect(defined(hub.client("carol")).hubOwnedPool.hasBlock(block.block_uuid)).toBe(false);

      // An unsigned confirmation, or curtis confirming carol's block, changes nothing.
      const confirmBody = { client_name: "carol", block_uuids: [block.block_uuid] };
      await request(srv.app).post(`${P}/dske/api/v1/psrd-confirm`).set(JSON_TYPE).send(confirmBody).expect(401);
      await request(srv.app)
        .post(`${P}/dske/api/v1/psrd-confirm`)
        .set(JSON_TYPE)
        .set({ Authorization: `Bearer ${carol.enrollmentSecret}` })
        .send(confirmBody)
        .expect(401);
      const curtisApi = new HubApi(srv.url, { auth: { resolvePeer: () => curtis.peerAuth } });
      expect(await curtisApi.confirmPsrd({ client_name: "curtis", block_uuids: [block.block_uuid] })).toEqual({ confirmed: 0 });
      expect(defined(hub.client("carol")).hubOwnedPool.hasBlock(block.block_uuid)).toBe(false);
      expect(st().psrd?.staged.blocks).toBe(1);

      // carol's signed confirmation: the hub starts using the block.
      expect(await api.confirmPsrd(confirmBody)).toEqual({ confirmed: 1 });
      expect(defined(hub.client("carol")).hubOwnedPool.hasBlock(block.block_uuid)).toBe(true);
      expect(st().psrd?.staged).toEqual({ client: 0, hub: 0, blocks: 0 });
      expect(st().pools.hub_owned.blocks).toBe(2);
      expect(await api.confirmPsrd(confirmBody)).toEqual({ confirmed: 0 }); // idempotent
      block.data.fill(0);
      api.close();
      curtisApi.close();
    });
  }
});

describe("POST /mgmt/v1/psrd-bundles (operator)", () => {
  const tmp = useTempDir("dske-hub-outbox-");
  let hub: Hub;
  let srv: Awaited<ReturnType<typeof serve>>;
  beforeEach(async () => {
    hub = await openHub({ outboxDir: tmp.path, acceptClients: ["carol", "curtis", "dora"], maxClients: 2 });
    srv = await serve(hub);
  });
  afterEach(async () => {
    await srv.close();
    await hub.close();
  });

  const issue = (body: Record<string, unknown>) => request(srv.app).post(`${P}/mgmt/v1/psrd-bundles`).set(JSON_TYPE).send(body);

  test("without the operator token → 401, a wrong one → 403: nothing issued; with it → 200 and the file exists (0600)", async () => {
    const body = { client_name: "carol", client_owned_bytes: 2000, hub_owned_bytes: 3000 };
    const none = await issue(body).expect(401);
    expect(errorBody(none).message).toMatch(/management requires the operator credential/);
    await issue(body)
      .set({ Authorization: `Bearer ${"w".repeat(40)}` })
      .expect(403);
    expect(hub.status().peer_clients).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);

    const ok = await issue(body).set(AUTH).expect(200);
    expect(ok.body).toEqual({
      file: path.join(tmp.path, "hank-carol-000001.psrd"),
      hub_name: "hank",
      client_name: "carol",
      seq: 1,
      client_owned_bytes: 2000,
      hub_owned_bytes: 3000,
      blocks: 2,
    });
    const okFile = (ok.body as IssueBundleResponse).file;
    expect(existsSync(okFile)).toBe(true);
    expect(statSync(okFile).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(ok.body)).not.toMatch(/enrollment|secret|data/); // the bytes never travel over HTTP
    const opened = openBundle(await readBundleFile(okFile), { clientName: "carol", hubName: "hank", expectedSeq: 1 });
    expect(opened.blocks.map((b) => [b.pool_owner, b.data.length])).toEqual([
      ["client", 2016],
      ["hub", 3016],
    ]);
    expect(hub.status().peer_clients[0].psrd).toEqual({ bundles_issued: 1, staged: { client: 0, hub: 3000, blocks: 1 } });
    const second = await issue({ client_name: "carol", hub_owned_bytes: 100 }).set(AUTH).expect(200);
    const secondBody = second.body as IssueBundleResponse;
    expect(secondBody.seq).toBe(2);
    expect(
      openBundle(await readBundleFile(secondBody.file), {
        clientName: "carol",
        hubName: "hank",
        expectedSeq: 2,
        chainKey: opened.nextChainKey,
      }).blocks,
    ).toHaveLength(1);
  });

  test("refusals with a message and nothing issued: outside the policy 403, past max_clients 409, bad body 400", async () => {
    await issue({ client_name: "carol", client_owned_bytes: 100 }).set(AUTH).expect(200);
    await issue({ client_name: "curtis", client_owned_bytes: 100 }).set(AUTH).expect(200);
    const before = accounting(hub);
    const files = readdirSync(tmp.path).sort();
    const outside = await issue({ client_name: "mallory", client_owned_bytes: 100 }).set(AUTH).expect(403);
    expect(errorBody(outside).message).toMatch(/mallory is not in the acceptance policy of hub hank/);
    const full = await issue({ client_name: "dora", client_owned_bytes: 100 }).set(AUTH).expect(409);
    expect(errorBody(full).message).toMatch(/maximum of 2 registered clients/);
    const empty = await issue({ client_name: "carol" }).set(AUTH).expect(400);
    expect(errorBody(empty).message).toMatch(/client_owned_bytes or hub_owned_bytes above 0/);
    const negative = await issue({ client_name: "carol", client_owned_bytes: -5 }).set(AUTH).expect(400);
    expect(errorBody(negative).message).toMatch(/client_owned_bytes/);
    expect(accounting(hub)).toBe(before);
    expect(readdirSync(tmp.path).sort()).toEqual(files);
  });
});

/** The store lists no pool of the client any more (deleted after the answer was sent). */
async function waitForPoolsGone(hub: Hub, client: string): Promise<void> {
  const store = (hub as unknown as { store: { listPools(): Promise<string[]> } }).store; // why: the test reads the hub's private store
  for (const end = Date.now() + 20_000; Date.now() < end;) {
    if (!(await store.listPools()).some((p) => p.endsWith(`.${client}`))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the pools of ${client} were not deleted`);
}
