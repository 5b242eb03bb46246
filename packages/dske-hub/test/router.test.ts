import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import request from "supertest";
import { MemoryStore } from "@dske/psrd";
import type { AuthSchemeName } from "@dske/auth";
import { openBundle } from "@dske/distributor";
import { Hub } from "../src/hub";
import { HubApi, type PsrdResponse, type RegistrationResponse, type UnregistrationResponse } from "@dske/protocol";
import { createHubRouter } from "../src/http/router";
import { registerRoute } from "@dske/server";
import type { RouteSpec } from "@dske/server";
import { HUB_ROUTES, hubOpenApi } from "../src/http/routes";
import { MANAGEMENT_DISABLED, OPERATOR_CREDENTIAL_REQUIRED, createOperatorGuard, isLoopbackHost, sameOrigin } from "@dske/server";
import { ErrorBodySchema, MAX_BATCH_SHARES, type HubStatus } from "@dske/protocol";
import {
  apiError,
  bytes,
  clientMirror,
  decryptBatch,
  decryptShare,
  encryptBatch,
  encryptShare,
  provisionMirror,
  type ClientMirror,
  defined,
  errorBody,
} from "./helpers";

const P = "/hub/hank";
const TOKEN = "operator-token-for-router-tests-0123456789";
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const KEY = "0f3c9a50-1111-4222-8333-444455556666";

interface Harness {
  hub: Hub;
  app: express.Express;
  server: Server;
  url: string;
  stopped: number;
  close(): Promise<void>;
}

async function harness(
  options: { authSchemes?: AuthSchemeName[]; now?: () => number; operatorToken?: string | null; psrdDelivery?: "bundle" | "network" } = {},
): Promise<Harness> {
  const { operatorToken = TOKEN, ...hubOptions } = options;
  // hmac-sha256 listed explicitly: these tests cover reference (v1) peers too (the default is gf128 only).
  const hub = await Hub.open({
    name: "hank",
    store: new MemoryStore(),
    sweepIntervalMs: 0,
    authSchemes: ["gf128", "hmac-sha256"],
    ...hubOptions,
  });
  const h = { hub, stopped: 0 } as Harness;
  const app = express();
  app.use(
    createHubRouter({
      hub,
      onStop: () => {
        h.stopped++;
      },
      onError: () => {},
      ...(operatorToken === null ? {} : { operatorToken }),
    }),
  );
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  h.app = app;
  h.server = server;
  h.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${P}`;
  h.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await hub.close();
  };
  return h;
}

/**
 * A client: its HubApi (signing with its mirror pools) and the mirror, provisioned from its first
 * bundle (in process, as the local distributor does) and registered.
 */
async function client(
  h: Harness,
  name: string,
  encryptors: string[],
  scheme: AuthSchemeName = "gf128",
): Promise<{ api: HubApi; mirror: ClientMirror }> {
  const mirror = await provisionMirror(h.hub, name, { encryptors, scheme, bytes: 8192 });
  expect(h.hub.client(name)?.authScheme).toBe(scheme);
  const api = new HubApi(h.url, { auth: { resolvePeer: () => mirror.peerAuth } });
  return { api, mirror };
}

function expectErrorBody(body: unknown): void {
  const parsed = ErrorBodySchema.safeParse(body);
  expect(parsed.success).toBe(true);
  expect(defined(parsed.data).message.length).toBeGreaterThan(0);
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at /); // no stack traces
}

describe("out-of-band routes", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  test("registration needs a credential: unsigned without one → 401, nothing changes; the operator's is idempotent, negotiates, advertises batch; DELETE only by the operator (or signed)", async () => {
    const body = { client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" };
    const json = { "Content-Type": "application/json" };
    const put = () => request(h.app).put(`${P}/dske/oob/v1/registration`);
    const status = async () => (await request(h.app).get(`${P}/mgmt/v1/status`).set(AUTH).expect(200)).body as { peer_clients: unknown[] };
    // Rogue registrations: no credential, or a bearer token that is neither the operator's nor an enrollment secret.
    const before = await status();
    const rogue = await put().send(body).expect(401);
    expectErrorBody(rogue.body);
    expect(errorBody(rogue).message).toMatch(/registration of client carol needs proof of identity/);
    await put()
      .set({ Authorization: `Bearer ${"e".repeat(64)}` })
      .send(body)
      .expect(401);
    await put().send({ client_name: "conny" }).expect(401);
    expect(await status()).toEqual(before);
    expect(before.peer_clients).toEqual([]);

    const r1 = await put().set(AUTH).send(body).expect(200);
    const r2 = await put().set(AUTH).send(body).expect(200);
    expect(r1.body).toEqual({ hub_name: "hank", auth_scheme: "gf128", extensions: ["batch"], share_timeout_secs: 60, has_psrd: false });
    expect(r2.body).toEqual(r1.body);
    // A reference (v1) client: no auth_scheme, no encryptor_names.
    const v1 = await put().set(AUTH).send({ client_name: "conny" }).expect(200);
    expect((v1.body as RegistrationResponse).auth_scheme).toBe("hmac-sha256");
    // Scheme change while registered → 409.
    const conflict = await put()
      .set(AUTH)
      .send({ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "hmac-sha256" })
      .expect(409);
    expectErrorBody(conflict.body);
    expect((await status()).peer_clients).toHaveLength(2);

    // Unregistration of another client without its signature or the operator credential: 401, still registered.
    const snapshot = await status();
    const refused = await request(h.app).delete(`${P}/dske/oob/v1/registration?client_name=carol`).set(json).expect(401);
    expectErrorBody(refused.body);
    expect(errorBody(refused).message).toMatch(/only client carol itself \(signed\) or the operator/);
    await request(h.app)
      .delete(`${P}/dske/oob/v1/registration?client_name=carol`)
      .set(json)
      .set({ Authorization: `Bearer ${"e".repeat(64)}` })
      .expect(401);
    expect(await status()).toEqual(snapshot);
    const del = await request(h.app).delete(`${P}/dske/oob/v1/registration?client_name=carol`).set(json).set(AUTH).expect(200);
    expect(del.body).toEqual({ hub_name: "hank", unregistered: true });
    const again = await request(h.app).delete(`${P}/dske/oob/v1/registration?client_name=carol`).set(json).set(AUTH).expect(200);
    expect((again.body as UnregistrationResponse).unregistered).toBe(false);
    expect((await status()).peer_clients).toHaveLength(1);
    // A registration the hub holds PSRD for says so (a client with pools for a hub that lost them resets them).
    (await h.hub.issueBundleBytes("conny", 32, 32)).fill(0);
    expect(((await put().set(AUTH).send({ client_name: "conny" }).expect(200)).body as RegistrationResponse).has_psrd).toBe(true);
  });

  test("network PSRD delivery: only to the client itself (enrollment secret), both pool owners, staged until confirmed; the hub's copy equals the returned bytes", async () => {
    const net = await harness({ psrdDelivery: "network" });
    try {
      // First bundles carry the clients' enrollment secrets (client-owned PSRD only here, so that
      // the hub-owned pool holds nothing but the network blocks below).
      const open1 = async (name: string) => {
        const sealed = await net.hub.issueBundleBytes(name, 64, 0);
        const header = openBundle(sealed, { clientName: name, hubName: "hank", expectedSeq: 1 }).header;
        sealed.fill(0);
        return defined(header.enrollment_secret);
      };
      const secret = await open1("carol");
      await open1("curtis");
      const pools = () => JSON.stringify(net.hub.status().peer_clients.map((c) => [c.client_name, c.pools, c.psrd]));
      const before = pools();
      // No credential, a wrong one, or carol's secret for curtis's PSRD: 401, nothing created.
      const url = (name: string) => `${P}/dske/oob/v1/psrd?client_name=${name}&pool_owner=hub&size=32`;
      expect(errorBody(await request(net.app).get(url("carol")).expect(401)).message).toMatch(/delivered only to that client/);
      await request(net.app)
        .get(url("carol"))
        .set({ Authorization: `Bearer ${"0".repeat(64)}` })
        .expect(401);
      await request(net.app)
        .get(url("curtis"))
        .set({ Authorization: `Bearer ${secret}` })
        .expect(401);
      await request(net.app).get(url("carol")).set(AUTH).expect(401); // the operator token is not the client's credential
      expect(pools()).toBe(before);

      const api = new HubApi(net.url, { bearerToken: secret });
      const c = await api.getPsrd({ client_name: "carol", pool_owner: "client", size: 100 });
      const hb = await api.getPsrd({ client_name: "carol", pool_owner: "hub", size: 200 });
      expect(c.data.length).toBe(100);
      expect(hb.data.length).toBe(200);
      const peer = defined(net.hub.client("carol"));
      // Staged: the hub neither verifies with nor encrypts under these blocks yet.
      expect(peer.clientOwnedPool.hasBlock(c.block_uuid)).toBe(false);
      expect(peer.hubOwnedPool.hasBlock(hb.block_uuid)).toBe(false);
      expect(net.hub.status().peer_clients.find((x) => x.client_name === "carol")?.psrd?.staged).toEqual({
        client: 84,
        hub: 184,
        blocks: 2,
      });
      expect(await net.hub.confirmPsrd("carol", [c.block_uuid, hb.block_uuid])).toBe(2);
      const taken = await peer.clientOwnedPool.take({ fragments: [{ blockUuid: c.block_uuid, start: 16, size: 84 }] }, "t");
      expect(Buffer.from(taken)).toEqual(Buffer.from(c.data.subarray(16)));
      const alloc = await peer.hubOwnedPool.allocate(184, "t");
      expect(alloc.allocation.fragments.map((f) => f.blockUuid)).toEqual([hb.block_uuid]);
      expect(Buffer.from(alloc.data)).toEqual(Buffer.from(hb.data.subarray(16)));
      const raw = await request(net.app)
        .get(url("carol"))
        .set({ Authorization: `Bearer ${secret}` })
        .expect(200);
      const rawData = (raw.body as PsrdResponse).data;
      expect(rawData).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(rawData, "base64").length).toBe(32);
      api.close();
    } finally {
      await net.close();
    }
  });

  test.each([
    ["PUT", `${P}/dske/oob/v1/registration`, { encryptor_names: [] }, 400, /client_name/],
    ["PUT", `${P}/dske/oob/v1/registration`, { client_name: "bad name!" }, 400, /client_name/],
    ["PUT", `${P}/dske/oob/v1/registration`, { client_name: "x", encryptor_names: "sam" }, 400, /encryptor_names/],
    ["PUT", `${P}/dske/oob/v1/registration`, "{not json", 400, /not valid JSON/],
    ["PUT", `${P}/dske/oob/v1/registration`, { client_name: "x", pad: "y".repeat(70_000) }, 413, /too large/],
    ["DELETE", `${P}/dske/oob/v1/registration`, undefined, 400, /client_name/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=carol&pool_owner=both&size=10`, undefined, 400, /pool_owner/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=carol&pool_owner=hub&size=abc`, undefined, 400, /size/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=carol&pool_owner=hub&size=0`, undefined, 400, /size/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=carol&pool_owner=hub`, undefined, 400, /size/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=carol&client_name=x&pool_owner=hub&size=5`, undefined, 400, /client_name/],
    ["GET", `${P}/dske/oob/v1/psrd?client_name=nobody&pool_owner=hub&size=64`, undefined, 401, /delivered only to that client/],
    ["GET", `${P}/no/such/thing`, undefined, 404, /no such endpoint/],
    ["POST", `${P}/dske/oob/v1/registration`, {}, 404, /no such endpoint/],
  ])("%s %s (body %j) → %i with {message, details}", async (method, url, body, status, message) => {
    await request(h.app).put(`${P}/dske/oob/v1/registration`).set(AUTH).send({ client_name: "carol", auth_scheme: "gf128" }).expect(200);
    let req = request(h.app)[method.toLowerCase() as "get" | "put" | "delete" | "post"](url);
    if (method !== "GET") req = req.set("Content-Type", "application/json");
    if (typeof body === "string") req = req.send(body);
    else if (body !== undefined) req = req.send(body);
    const res = await req.expect(status);
    expect(res.headers["content-type"]).toMatch(/json/);
    expectErrorBody(res.body);
    expect(errorBody(res).message).toMatch(message);
    if (status === 400 || status === 401) expect((errorBody(res).details?.length ?? 0) > 0).toBe(true);
  });

  test("management: status lists clients, pools and PSRD delivery; stop calls onStop after answering", async () => {
    const api = new HubApi(h.url, { operatorToken: TOKEN, bearerToken: TOKEN });
    // The first bundle: 984 usable client-owned bytes (one block of 1000), 500 hub-owned bytes staged.
    (await h.hub.issueBundleBytes("carol", 984, 500)).fill(0);
    await api.register({ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" });
    const status = await api.status();
    expect(status.name).toBe("hank");
    expect(status.extensions).toEqual(["batch", "ack"]);
    expect(status.psrd_delivery).toBe("bundle");
    expect(status.peer_clients[0]).toEqual({
      client_name: "carol",
      encryptor_names: ["sam"],
      auth_scheme: "gf128",
      extensions: [],
      pools: {
        client_owned: { blocks: 1, size: 1000, used: 16, available: 984 }, // the gf128 key prefix counts as used
        hub_owned: { blocks: 0, size: 0, used: 0, available: 0 }, // staged until carol confirms it
      },
      psrd: { bundles_issued: 1, staged: { client: 0, hub: 500, blocks: 1 } },
      // The reference's block view: local = hub-owned (nothing confirmed yet), peer = client-owned.
      local_pool: { blocks: [], owner: "local" },
      peer_pool: {
        blocks: [{ uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) as string, size: 1000, nr_used_bytes: 16, nr_unused_bytes: 984 }],
        owner: "peer",
      },
    });
    expect(await api.stop()).toEqual({ message: "hub hank is stopping" });
    await new Promise((r) => setImmediate(r));
    expect(h.stopped).toBe(1);
    api.close();
  });

  test("HubApi maps errors: HTTP status + message + details, and network failures", async () => {
    const api = new HubApi(h.url);
    const e = await apiError(api.getPsrd({ client_name: "nobody", pool_owner: "hub", size: 10 }));
    expect(e.status).toBe(401);
    expect(e.code).toBe("http");
    expect(e.message).toMatch(/PSRD of client nobody is delivered only to that client/);
    expect(e.details).toEqual([{ header: "Authorization" }]);
    const c = await apiError(api.register({ client_name: "carol", encryptor_names: [], auth_scheme: "gf128" }));
    expect([c.status, c.code]).toEqual([401, "http"]);
    const down = new HubApi("http://127.0.0.1:1/hub/hank");
    const n = await apiError(down.status());
    expect(n.status).toBe(0);
    expect(n.code).toBe("network");
    expect(() => new HubApi("not a url")).toThrow(/invalid hub base URL/);
    api.close();
    down.close();
  });
});

describe("in-band routes (signed)", () => {
  let h: Harness;
  let now: number;
  beforeEach(async () => {
    now = 10_000_000;
    h = await harness({ now: () => now });
  });
  afterEach(async () => {
    await h.close();
  });

  for (const scheme of ["gf128", "hmac-sha256"] as const) {
    test(`post and get a share through signed requests (${scheme})`, async () => {
      const carol = await client(h, "carol", ["sam"], scheme);
      const curtis = await client(h, "curtis", ["sunny"], scheme);
      const share = bytes(48, 1);
      const enc = await encryptShare(carol.mirror, share);
      const ack = await carol.api.postKeyShare({
        master_client_name: "carol",
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: KEY,
        share_index: 1,
        ...enc,
      });
      expect(ack).toEqual({});
      expect(h.hub.shareCount).toBe(1);
      const got = await curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
      expect(got.share_index).toBe(1);
      expect(Buffer.from(await decryptShare(curtis.mirror, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(
        Buffer.from(share),
      );
      expect(h.hub.shareCount).toBe(0);
      // Deleted: a second fetch is a (signed, for gf128) 404.
      const e = await apiError(curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }));
      expect(e.status).toBe(404);
      expect(e.message).toMatch(/no share for key/);
      carol.api.close();
      curtis.api.close();
    });
  }

  test("a wrong responder is refused with 404; the intended one still gets the share", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const curtis = await client(h, "curtis", ["sunny"]);
    const celia = await client(h, "celia", ["serena"]);
    const enc = await encryptShare(carol.mirror, bytes(32, 2));
    await carol.api.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 3,
      ...enc,
    });
    const q = { master_sae_id: "sam", key_id: KEY };
    const e1 = await apiError(celia.api.getKeyShare({ ...q, client_name: "celia", slave_sae_id: "sunny" }));
    const e2 = await apiError(celia.api.getKeyShare({ ...q, client_name: "celia", slave_sae_id: "serena" }));
    expect([e1.status, e2.status]).toEqual([404, 404]);
    expect(e1.code).toBe("http"); // the refusal itself is authenticated (gf128)
    const got = await curtis.api.getKeyShare({ ...q, client_name: "curtis", slave_sae_id: "sunny" });
    expect(Buffer.from(await decryptShare(curtis.mirror, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(
      Buffer.from(bytes(32, 2)),
    );
  });

  test("shares time out", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const curtis = await client(h, "curtis", ["sunny"]);
    const enc = await encryptShare(carol.mirror, bytes(32, 3));
    await carol.api.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    now += 60_001;
    const e = await apiError(curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY }));
    expect(e.status).toBe(404);
    expect(h.hub.sweep()).toBe(1);
    expect(h.hub.status().shares).toEqual([]);
  });

  test("unsigned, unknown-sender and tampered requests are 401 and consume nothing", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const enc = await encryptShare(carol.mirror, bytes(32, 4));
    const body = { master_client_name: "carol", master_sae_id: "sam", slave_sae_id: "sunny", user_key_id: KEY, share_index: 1, ...enc };
    const pool = defined(h.hub.client("carol")).clientOwnedPool;
    const used = pool.stats().used;
    const unsigned = await request(h.app).post(`${P}/dske/api/v1/key-share`).send(body).expect(401);
    expectErrorBody(unsigned.body);
    const stranger = await request(h.app)
      .post(`${P}/dske/api/v1/key-share`)
      .send({ ...body, master_client_name: "mallory" })
      .expect(401);
    expectErrorBody(stranger.body);
    // Signed by a client whose pools do not match the hub's copy: bad tag.
    const forger = await clientMirror("carol", "gf128");
    await forger.local.addBlock("00000000-0000-4000-8000-000000000001", bytes(4096, 9), { keyPrefix: 16 });
    const forgedApi = new HubApi(h.url, { auth: { resolvePeer: () => forger.peerAuth } });
    const e = await apiError(forgedApi.postKeyShare(body));
    expect(e.status).toBe(401);
    expect(pool.stats().used).toBe(used);
    expect(h.hub.shareCount).toBe(0);
    // The genuine request still works.
    await carol.api.postKeyShare(body);
    expect(h.hub.shareCount).toBe(1);
    forgedApi.close();
  });

  test("signed requests with bad bodies are 400 with details (signed responses)", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const enc = await encryptShare(carol.mirror, bytes(32, 5));
    const good = { master_client_name: "carol", master_sae_id: "sam", slave_sae_id: "sunny", user_key_id: KEY, share_index: 1, ...enc };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, share_index: -1 }, /share_index/],
      [{ ...good, share_index: 1.5 }, /share_index/],
      [{ ...good, encrypted_share_value: "not base64!" }, /encrypted_share_value/],
      [{ ...good, encryption_key_allocation: { fragments: [] } }, /fragments/],
      [{ ...good, user_key_id: "" }, /user_key_id/],
      [{ ...good, slave_sae_id: undefined }, /slave_sae_id/],
      [{ ...good, encrypted_share_value: Buffer.alloc(31).toString("base64") }, /32 bytes but the share value\(s\) have 31/],
    ];
    for (const [body, message] of cases) {
      const e = await apiError(carol.api.postKeyShare(body as never));
      expect(e.status).toBe(400);
      expect(e.code).toBe("http");
      expect(e.message).toMatch(message);
      expect(e.details?.length).toBeGreaterThan(0);
    }
    const q = await apiError(
      carol.api.getKeyShare({ client_name: "carol", master_sae_id: "sam", slave_sae_id: "sam", key_id: "bad key id" }),
    );
    expect(q.status).toBe(400);
    expect(q.message).toMatch(/key_id/);
    // All of that consumed no share pad: the original post still works.
    await carol.api.postKeyShare(good);
    expect(h.hub.shareCount).toBe(1);
  });

  test("batch extension: 100 shares in one signed POST, fetched in one signed message", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const curtis = await client(h, "curtis", ["sunny"]);
    const values = Array.from({ length: 100 }, (_, i) => bytes(48, 1000 + i));
    const keyIds = values.map((_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const enc = await encryptBatch(carol.mirror, values);
    const res = await carol.api.postKeyShares({
      master_client_name: "carol",
      encryption_key_allocation: enc.encryption_key_allocation,
      shares: values.map((_, i) => ({
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: keyIds[i],
        share_index: 4,
        encrypted_share_value: enc.ciphertexts[i],
      })),
    });
    expect(res).toEqual({ stored: 100 });
    const fetched = await curtis.api.getKeyShares({
      client_name: "curtis",
      keys: [...keyIds, "missing-key"].map((key_id) => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id })),
    });
    expect(fetched.missing).toEqual(["missing-key"]);
    expect(fetched.shares.map((s) => s.key_id)).toEqual(keyIds);
    expect(fetched.shares.every((s) => s.share_index === 4)).toBe(true);
    const plains = await decryptBatch(
      curtis.mirror,
      defined(fetched.encryption_key_allocation),
      fetched.shares.map((s) => s.encrypted_share_value),
    );
    plains.forEach((p, i) => expect(Buffer.from(p)).toEqual(Buffer.from(values[i])));
    expect(h.hub.shareCount).toBe(0);
    const tooMany = await apiError(
      curtis.api.getKeyShares({
        client_name: "curtis",
        keys: Array.from({ length: MAX_BATCH_SHARES + 1 }, (_, i) => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id: `k${i}` })),
      }),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.message).toMatch(/keys/);
  });
});

describe("HubApi response validation", () => {
  test("a 2xx body that does not match the wire schema is an invalid_response error; a PSRD block of the wrong size too", async () => {
    const app = express();
    app.get("/hub/fake/mgmt/v1/status", (_req, res) => void res.json({ name: "fake" }));
    app.get(
      "/hub/fake/dske/oob/v1/psrd",
      (_req, res) => void res.json({ block_uuid: "3b1f0c5e-1111-4222-8333-444455556666", data: "AAAA" }),
    );
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const api = new HubApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/fake/`);
    const e = await apiError(api.status());
    expect(e).toMatchObject({ status: 0, code: "invalid_response" });
    expect(e.details?.length).toBeGreaterThan(0);
    const p = await apiError(api.getPsrd({ client_name: "carol", pool_owner: "hub", size: 16 }));
    expect(p).toMatchObject({ status: 0, code: "invalid_response" });
    expect(p.message).toMatch(/3 bytes, asked for 16/);
    api.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe("createHubRouter with a hub of another name", () => {
  test("serves under /hub/{name} of its hub, and never closes it", async () => {
    const app = express();
    const router = createHubRouter({
      hub: await Hub.open({ name: "helen", store: new MemoryStore(), sweepIntervalMs: 0 }),
      operatorToken: TOKEN,
    });
    app.use(router);
    await request(app).put("/hub/helen/dske/oob/v1/registration").send({ client_name: "carol", auth_scheme: "gf128" }).expect(401);
    const r = await request(app)
      .put("/hub/helen/dske/oob/v1/registration")
      .set(AUTH)
      .send({ client_name: "carol", auth_scheme: "gf128" })
      .expect(200);
    expect((r.body as RegistrationResponse).hub_name).toBe("helen");
    const stop = await request(app).post("/hub/helen/mgmt/v1/stop").set(AUTH).send({}).expect(501);
    expectErrorBody(stop.body);
    // Paths of other hubs are not ours.
    await request(app).get("/hub/hank/mgmt/v1/status").expect(404);
    expect(router.hub.isClosed).toBe(false);
    await router.hub.close();
  });
});

describe("management plane: the operator credential, cross-site refusal, JSON writes", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  const WRONG = { Authorization: `Bearer ${"x".repeat(40)}` };
  /** Every guarded route of the hub: management (status, stop) and metrics. */
  const GUARDED: ["get" | "post", string][] = [
    ["get", `${P}/mgmt/v1/status`],
    ["post", `${P}/mgmt/v1/stop`],
    ["get", `${P}/metrics`],
  ];

  test("every guarded route: 401 without the token, 403 with a wrong one, 200 with it; refusals counted", async () => {
    // The route tables mark every management route (and metrics) as operator-only (metrics is an
    // infrastructure endpoint: not in the document's operations).
    const doc = hubOpenApi("hank");
    for (const [method, path] of GUARDED.filter(([, p]) => !p.endsWith("/metrics"))) {
      expect((doc.paths[path][method] as { security?: unknown }).security).toEqual([{ operatorToken: [] }, { operatorCertificate: [] }]);
    }
    for (const spec of Object.values(HUB_ROUTES) as RouteSpec[]) if (spec.path.startsWith("/mgmt/")) expect(spec.security).toBe("operator");

    for (const [method, path] of GUARDED) {
      const none = await request(h.app)[method](path).set("Content-Type", "application/json").send("{}").expect(401);
      expectErrorBody(none.body);
      expect(errorBody(none).message).toBe(OPERATOR_CREDENTIAL_REQUIRED);
      const agent = request(h.app);
      const basic = await agent[method](path).set("Authorization", "Basic Zm9vOmJhcg==").set("Content-Type", "application/json").send("{}");
      expect(basic.status).toBe(401);
      const wrong = await request(h.app)[method](path).set(WRONG).set("Content-Type", "application/json").send("{}").expect(403);
      expectErrorBody(wrong.body);
      expect(JSON.stringify(wrong.body)).not.toContain("x".repeat(40)); // the presented token is not echoed
    }
    expect(h.stopped).toBe(0);
    const status = await request(h.app).get(`${P}/mgmt/v1/status`).set(AUTH).expect(200);
    expect((status.body as HubStatus).name).toBe("hank");
    expect(status.body).not.toHaveProperty("insecure");
    const metrics = await request(h.app).get(`${P}/metrics`).set(AUTH).expect(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    // Failures are counted under fixed reasons only (no label value comes from the request).
    expect(metrics.text).toMatch(/dske_auth_failures_total\{reason="operator_credential_missing"[^}]*\} 6/);
    expect(metrics.text).toMatch(/dske_auth_failures_total\{reason="operator_token_refused"[^}]*\} 3/);
    expect(metrics.text).not.toContain("xxxx");
    await request(h.app).post(`${P}/mgmt/v1/stop`).set(AUTH).send({}).expect(200);
    await new Promise((r) => setImmediate(r));
    expect(h.stopped).toBe(1);
  });

  test("health and the documentation stay open and reveal nothing", async () => {
    const health = await request(h.app).get(`${P}/health`).expect(200);
    expect(health.body).toEqual({ status: "ok" });
    await request(h.app).get(`${P}/openapi.json`).expect(200);
    await request(h.app).get(`${P}/docs`).expect(200);
  });

  test("a cross-site request (foreign Origin) is refused on every route; the hub keeps running", async () => {
    const evil = { Origin: "http://evil.example" };
    const stop = await request(h.app)
      .post(`${P}/mgmt/v1/stop`)
      .set(AUTH)
      .set(evil)
      .set("Content-Type", "text/plain")
      .send("{}")
      .expect(403);
    expect(stop.body).toMatchObject({ message: "cross-site request refused" });
    expect(Array.isArray(errorBody(stop).details)).toBe(true);
    await request(h.app).post(`${P}/mgmt/v1/stop`).set(AUTH).set(evil).send({}).expect(403);
    await request(h.app).get(`${P}/mgmt/v1/status`).set(AUTH).set(evil).expect(403);
    await request(h.app).put(`${P}/dske/oob/v1/registration`).set(evil).send({ client_name: "carol" }).expect(403);
    await request(h.app).post(`${P}/dske/api/v1/key-shares/fetch`).set(evil).send({}).expect(403);
    await request(h.app).get(`${P}/health`).set({ Origin: "null" }).expect(403);
    expect(h.hub.status().peer_clients).toEqual([]); // the refused registration changed nothing
    await new Promise((r) => setImmediate(r));
    expect(h.stopped).toBe(0);
    // The node's own origin (e.g. its docs page) is fine.
    const host = new URL(h.url).host;
    await request(h.url.replace(P, "")).get(`${P}/mgmt/v1/status`).set(AUTH).set("Origin", `http://${host}`).expect(200);
    await request(h.app).get(`${P}/mgmt/v1/status`).set(AUTH).expect(200);
  });

  test("writes on management and out-of-band routes must be application/json (415); nothing stops or changes", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await request(h.app).post(`${P}/mgmt/v1/stop`).set(AUTH).set("Content-Type", type).send("{}").expect(415);
      expectErrorBody(r.body);
      expect(errorBody(r).message).toMatch(/Content-Type: application\/json/);
      await request(h.app).put(`${P}/dske/oob/v1/registration`).set("Content-Type", type).send('{"client_name":"carol"}').expect(415);
    }
    await request(h.app).post(`${P}/mgmt/v1/stop`).set(AUTH).expect(415); // no Content-Type at all
    // A DELETE with a non-JSON body is refused as such; a bodiless one needs no Content-Type (no
    // form or simple cross-site request can send DELETE) but still a credential.
    await request(h.app).delete(`${P}/dske/oob/v1/registration?client_name=carol`).set("Content-Type", "text/plain").send("x").expect(415);
    await request(h.app).delete(`${P}/dske/oob/v1/registration?client_name=carol`).expect(401);
    await new Promise((r) => setImmediate(r));
    expect(h.stopped).toBe(0);
    expect(h.hub.status().peer_clients).toEqual([]);
    await request(h.app).post(`${P}/mgmt/v1/stop`).set(AUTH).set("Content-Type", "application/json; charset=utf-8").send("{}").expect(200);
    await new Promise((r) => setImmediate(r));
    expect(h.stopped).toBe(1);
  });

  test("a hub without an operator token: management is disabled (401 on every guarded route)", async () => {
    const bare = await harness({ operatorToken: null });
    try {
      for (const [method, path] of GUARDED) {
        for (const auth of [{}, AUTH]) {
          const r = await request(bare.app)[method](path).set(auth).set("Content-Type", "application/json").send("{}").expect(401);
          expect(errorBody(r).message).toBe(MANAGEMENT_DISABLED);
        }
      }
      expect(bare.stopped).toBe(0);
      await request(bare.app).get(`${P}/health`).expect(200);
    } finally {
      await bare.close();
    }
  });

  test("a hub bound insecurely (--allow-insecure-bind) says so in its status", async () => {
    const app = express();
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0 });
    app.use(createHubRouter({ hub, operatorToken: TOKEN, insecure: true }));
    expect(((await request(app).get(`${P}/mgmt/v1/status`).set(AUTH).expect(200)).body as HubStatus).insecure).toBe(true);
    await hub.close();
  });

  test("registerRoute refuses a management route without the operator guard, and an unmarked /mgmt/ route", () => {
    const router = express.Router();
    expect(() => registerRoute(router, P, HUB_ROUTES.status, (_req, res) => void res.json({}))).toThrow(/needs an operator guard/);
    const unmarked = { ...HUB_ROUTES.status, security: undefined, operationId: "x" };
    expect(() => registerRoute(router, P, unmarked, createOperatorGuard({}), (_req, res) => void res.json({}))).toThrow(
      /mark it security: "operator"/,
    );
    expect(() => createOperatorGuard({ operatorToken: "short" })).toThrow(/shorter than 16/);
  });

  test("share metadata for clients: unsigned held-check (IDs only), signed metadata (only shares the caller hosts a slave of)", async () => {
    const carol = await client(h, "carol", ["sam"]);
    const curtis = await client(h, "curtis", ["sunny"]);
    const celia = await client(h, "celia", ["serena"]);
    const enc = await encryptShare(carol.mirror, bytes(32, 9));
    await carol.api.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    const other = "0f3c9a50-9999-4222-8333-444455556666";
    expect(await new HubApi(h.url).sharesHeld([KEY, other])).toEqual([KEY]);
    expect(await curtis.api.shareMeta({ client_name: "curtis", key_ids: [KEY, other] })).toEqual({
      shares: [{ key_id: KEY, master_sae_id: "sam", slave_sae_ids: ["sunny"] }],
    });
    expect(await celia.api.shareMeta({ client_name: "celia", key_ids: [KEY] })).toEqual({ shares: [] });
    // Unsigned metadata requests are refused like every in-band request.
    await request(h.app)
      .post(`${P}/dske/api/v1/key-shares/meta`)
      .send({ client_name: "curtis", key_ids: [KEY] })
      .expect(401);
  });
});

describe("operator helpers", () => {
  test("sameOrigin compares host:port (default ports by scheme)", () => {
    expect(sameOrigin("http://127.0.0.1:8100", "127.0.0.1:8100", false)).toBe(true);
    expect(sameOrigin("http://localhost", "LOCALHOST:80", false)).toBe(true);
    expect(sameOrigin("https://h.example", "h.example", true)).toBe(true);
    expect(sameOrigin("http://127.0.0.1:8101", "127.0.0.1:8100", false)).toBe(false);
    expect(sameOrigin("http://evil.example:8100", "127.0.0.1:8100", false)).toBe(false);
    expect(sameOrigin("null", "127.0.0.1:8100", false)).toBe(false);
    expect(sameOrigin("http://127.0.0.1:8100", undefined, false)).toBe(false);
  });

  test("isLoopbackHost: 127.0.0.0/8, ::1, localhost only", () => {
    for (const h of ["127.0.0.1", "127.255.0.9", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"])
      expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "localhost.evil.example", "128.0.0.1"])
      expect([h, isLoopbackHost(h)]).toEqual([h, false]);
  });
});
