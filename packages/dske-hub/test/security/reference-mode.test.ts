/**
 * Attacks on the reference-client mode, against the real router over real sockets (source
 * addresses are the TCP peer's: 127.0.0.2 is a second Linux loopback address). The mode must open
 * nothing beyond the named reference clients from the listed addresses: an unnamed client, a named
 * one from elsewhere, and our (bundle-provisioned) clients still need proof of identity; a
 * reference client gets no bound share meant for another client's SAE.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { MemoryStore } from "@dske/psrd";
import { HubApi } from "@dske/protocol";
import { Hub } from "../../src/hub";
import { createHubRouter } from "../../src/http/router";
import type { ReferenceClientsOption } from "../../src/reference-clients";
import { bytes, encryptShare, errorBody, provisionMirror, type ProvisionedMirror } from "../helpers";
import { call, ReferenceWireClient, type WireResponse } from "../reference-wire";

interface Running {
  hub: Hub;
  server: Server;
  base: string;
}

async function start(reference: ReferenceClientsOption, host = "127.0.0.1"): Promise<Running> {
  const hub = await Hub.open({
    name: "hank",
    store: new MemoryStore(),
    authSchemes: ["gf128", "hmac-sha256"],
    psrdDelivery: "network", // even with network delivery on, our clients must prove who they are
    referenceClients: reference,
    sweepIntervalMs: 0,
  });
  const app = express();
  app.use(createHubRouter({ hub, onError: () => {} }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, host, () => resolve(s));
  });
  return { hub, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank` };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  await new Promise<void>((done) => r.server.close(() => done()));
  await r.hub.close();
}

function register(base: string, body: unknown, localAddress?: string, headers: Record<string, string> = {}): Promise<WireResponse> {
  return call("PUT", `${base}/dske/oob/v1/registration`, {
    headers: { "Content-Type": "application/json", ...headers },
    body: Buffer.from(JSON.stringify(body)),
    localAddress,
  });
}

function psrd(base: string, client: string, localAddress?: string): Promise<WireResponse> {
  return call("GET", `${base}/dske/oob/v1/psrd?client_name=${client}&pool_owner=client&size=1024`, { localAddress });
}

function expect401(res: WireResponse): void {
  expect(res.status).toBe(401);
  expect(errorBody(res).message).toMatch(/needs proof of identity|delivered only to that client/);
}

describe("reference-client mode: attacks", () => {
  let r: Running | undefined;
  afterEach(async () => {
    await stop(r);
    r = undefined;
  });

  test("an unnamed client without proof is refused (401) as before, and nothing is created", async () => {
    r = await start({ names: ["carol"] });
    expect401(await register(r.base, { client_name: "mallory", encryptor_names: ["sam"] }));
    expect401(await psrd(r.base, "mallory"));
    expect(r.hub.client("mallory")).toBeUndefined();
    expect(r.hub.status().peer_clients).toEqual([]);
  });

  test("a named reference client from a source address that is not listed is refused (401)", async () => {
    r = await start({ names: ["carol"], from: ["10.9.8.7"] });
    expect401(await register(r.base, { client_name: "carol", encryptor_names: ["sam"] }));
    expect401(await psrd(r.base, "carol"));
    expect(r.hub.client("carol")).toBeUndefined();
  });

  test("the source address is the TCP peer's: only the listed one passes (IPv4-mapped on a dual-stack socket too)", async () => {
    r = await start({ names: ["carol"], from: ["127.0.0.2"] }, "::");
    expect401(await register(r.base, { client_name: "carol" }, "127.0.0.1"));
    expect401(await register(r.base, { client_name: "carol" }, "127.0.0.1", { "X-Forwarded-For": "127.0.0.2" }));
    expect(r.hub.client("carol")).toBeUndefined();
    expect((await register(r.base, { client_name: "carol" }, "127.0.0.2")).status).toBe(200);
    expect401(await psrd(r.base, "carol", "127.0.0.1"));
    expect((await psrd(r.base, "carol", "127.0.0.2")).status).toBe(200);
    expect(r.hub.status().peer_clients[0].enrollment).toBe("unauthenticated (reference mode, from 127.0.0.2)");
  });

  test("our clients can be neither registered nor have their PSRD fetched without proof, even in reference mode", async () => {
    r = await start({ names: ["carol"] });
    const curtis = await provisionMirror(r.hub, "curtis", { encryptors: ["sara"], scheme: "gf128" });
    const before = r.hub.status().peer_clients.find((c) => c.client_name === "curtis");
    expect401(await register(r.base, { client_name: "curtis", encryptor_names: ["sara", "stolen"] }));
    expect401(await register(r.base, { client_name: "curtis" }, undefined, { Authorization: "Bearer 00" }));
    expect401(await psrd(r.base, "curtis"));
    const after = r.hub.status().peer_clients.find((c) => c.client_name === "curtis");
    expect(after).toEqual(before);
    expect(after?.implementation).toBeUndefined();
    // Its own credential still works.
    const ok = await call("GET", `${r.base}/dske/oob/v1/psrd?client_name=curtis&pool_owner=client&size=1024`, {
      headers: { Authorization: `Bearer ${curtis.enrollmentSecret}` },
    });
    expect(ok.status).toBe(200);
  });

  test("a reference client cannot fetch a bound share meant for another client's SAE", async () => {
    r = await start({ names: ["carol"] });
    const carol = await ReferenceWireClient.create(r.base, "carol", ["sam"]);
    await carol.start();
    const curtis: ProvisionedMirror = await provisionMirror(r.hub, "curtis", { encryptors: ["sara"], scheme: "gf128" });
    await provisionMirror(r.hub, "cindy", { encryptors: ["sue"], scheme: "gf128" });
    const api = new HubApi(r.base, { auth: { resolvePeer: () => curtis.peerAuth } });
    const keyId = "0f3c9a50-1111-4222-8333-444455556666";
    await api.postKeyShare({
      master_client_name: "curtis",
      master_sae_id: "sara",
      slave_sae_id: "sue",
      user_key_id: keyId,
      share_index: 1,
      ...(await encryptShare(curtis, bytes(32, 1))),
    });
    expect((await carol.getShare(keyId)).res.status).toBe(404);
    for (const slave of ["sue", "sam"]) {
      const q = new URLSearchParams({ client_name: "carol", master_sae_id: "sara", slave_sae_id: slave, key_id: keyId }).toString();
      expect((await carol.signed("GET", "/dske/api/v1/key-share", q)).status).toBe(404);
    }
    // Claiming cindy's SAE at a re-registration is a conflict, and gets it no share either.
    const claim = await register(r.base, { client_name: "carol", encryptor_names: ["sam", "sue"] });
    expect(claim.status).toBe(409);
    expect(r.hub.status().shares).toEqual([expect.objectContaining({ key_id: keyId, slave_sae_ids: ["sue"], fetched_by: [] })]);
  });

  test("the reference wire is for reference clients only, and signed as always", async () => {
    r = await start({ names: ["carol", "conny"] });
    const carol = await ReferenceWireClient.create(r.base, "carol", ["sam"]);
    const conny = await ReferenceWireClient.create(r.base, "conny", ["sunny"]);
    await carol.start();
    await conny.start();
    // Our client's reference-body post is not a reference post: its signer is unresolved (401), nothing stored.
    const curtis = await provisionMirror(r.hub, "curtis", { encryptors: ["sara"], scheme: "gf128" });
    const ours = await ReferenceWireClient.create(r.base, "curtis", ["sara"]);
    ours.mirror = curtis;
    expect((await ours.postShare(bytes(32, 2))).res.status).toBe(401);
    // ... and its fetch without SAE IDs is invalid (400).
    expect((await ours.getShare("0f3c9a50-1111-4222-8333-444455556666")).res.status).toBe(400);
    // conny signing a body that names carol: verified against carol's pool → 401.
    const forged = await conny.signed(
      "POST",
      "/dske/api/v1/key-share",
      "",
      Buffer.from(
        JSON.stringify({
          client_name: "carol",
          user_key_id: "k-forged",
          share_index: 0,
          encryption_key_allocation: { fragments: [{ block_uuid: "0f3c9a50-1111-4222-8333-444455556666", start: 0, size: 4 }] },
          encrypted_share_value: "AAAAAA==",
        }),
      ),
    );
    expect(forged.status).toBe(401);
    // Unsigned reference calls are refused too.
    expect((await call("GET", `${r.base}/dske/api/v1/key-share?client_name=carol&key_id=k1`)).status).toBe(401);
    expect(r.hub.shareCount).toBe(0);
  });
});
