/**
 * The test-only reference-hub emulation (src/testing/reference-hub.ts) seen through HubApi, and
 * the reference's block view of the hub status (`local_pool` / `peer_pool`, never block bytes):
 * a signed `null` answer to POST key-share is a stored share and keeps both sides' pools in
 * step; a client that registers again has its pools reset by the emulated hub (so a client
 * that re-registered on an unexpected body would break, as it did against the reference).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { MemoryStore } from "@dske/psrd";
import { HubApi, type BlockPoolStatus, type UnexpectedResponse } from "@dske/protocol";
import { Hub } from "../src/hub";
import { createHubRouter } from "../src/http/router";
import { referenceHubEmulation, type ReferenceHubEmulation } from "../src/testing/reference-hub";
import { apiError, bytes, defined, encryptShare, provisionMirror, type ProvisionedMirror } from "./helpers";

let hub: Hub;
let server: Server;
let url: string;
let emulation: ReferenceHubEmulation;
let active = true;
const logged: { message: string; fields?: Record<string, unknown> }[] = [];

beforeEach(async () => {
  hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0, shareTimeoutSecs: 60 });
  const app = express();
  emulation = referenceHubEmulation(
    hub,
    () => active,
    (message, fields) => logged.push({ message, fields }),
  );
  app.use(emulation);
  app.use(createHubRouter({ hub, onError: () => {} }));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
  active = true;
  logged.length = 0;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await hub.close();
});

const uuid = (i: number) => `6c1d2e3f-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

async function post(api: HubApi, mirror: ProvisionedMirror, i: number): Promise<unknown> {
  return api.postKeyShare({
    master_client_name: mirror.name,
    master_sae_id: "sam",
    slave_sae_id: "sunny",
    user_key_id: uuid(i),
    share_index: 1,
    ...(await encryptShare(mirror, bytes(32, i))),
  });
}

const peerOf = (name: string) => defined(hub.status().peer_clients.find((c) => c.client_name === name));
const register = (api: HubApi) => api.registerSigned({ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128" });

/** The reference's block view of a mirror pool, computed on the client's side. */
function usageView(usage: ReturnType<ProvisionedMirror["local"]["blockUsage"]>): BlockPoolStatus["blocks"] {
  return usage
    .filter((b) => b.unused > 0)
    .map((b) => ({ uuid: b.blockUuid, size: b.size, nr_used_bytes: b.used, nr_unused_bytes: b.unused }));
}

test("POST key-share answered with a signed null: stored, no warning, pools in step block by block; status never holds PSRD bytes", async () => {
  const mirror = await provisionMirror(hub, "carol", { encryptors: ["sam"] });
  const events: UnexpectedResponse[] = [];
  const api = new HubApi(url, { auth: { resolvePeer: () => mirror.peerAuth }, onUnexpectedResponse: (e) => events.push(e) });
  try {
    const reg = await register(api);
    expect(reg.extensions).toBeUndefined(); // the reference has neither batch nor ack
    for (let i = 1; i <= 20; i++) expect(await post(api, mirror, i)).toEqual({});
    expect(events).toEqual([]);
    expect(hub.status().shares).toHaveLength(20);
    const carol = peerOf("carol");
    // Hub: local = hub-owned (the hub allocates from it), peer = client-owned; the client's copies agree
    // (the hub-owned pool up to the response pads the hub consumes ahead: at most 8 of 16 bytes).
    expect(carol.peer_pool).toEqual({ owner: "peer", blocks: usageView(mirror.local.blockUsage()) });
    const local = defined(carol.local_pool);
    const mine = usageView(mirror.peer.blockUsage());
    expect(local.owner).toBe("local");
    expect(local.blocks.map((b) => [b.uuid, b.size])).toEqual(mine.map((b) => [b.uuid, b.size]));
    const ahead = local.blocks[0].nr_used_bytes - mine[0].nr_used_bytes;
    expect(ahead).toBeGreaterThanOrEqual(0);
    expect(ahead).toBeLessThanOrEqual(8 * 16);
    expect(defined(carol.peer_pool).blocks[0].nr_used_bytes).toBeGreaterThan(20 * 32);
    expect(defined(carol.local_pool).blocks.map((b) => b.uuid)).toEqual(mirror.blockUuids.hub);
    const text = JSON.stringify(hub.status());
    expect(text).not.toMatch(/"data"/);
    expect(emulation.resets).toEqual([]);
  } finally {
    api.close();
  }
});

test("a client that registers again gets its pools reset (as the reference hub does): its old blocks fail afterwards", async () => {
  const mirror = await provisionMirror(hub, "carol", { encryptors: ["sam"] });
  const api = new HubApi(url, { auth: { resolvePeer: () => mirror.peerAuth } });
  try {
    await register(api);
    expect(await post(api, mirror, 1)).toEqual({});
    expect(peerOf("carol").pools.client_owned.blocks).toBeGreaterThan(0);
    await register(api); // answered with the old pools, then reset
    await new Promise<void>((resolve) => {
      const poll = (): void => {
        if (emulation.resets.length > 0) resolve();
        else setImmediate(poll);
      };
      poll();
    });
    expect(emulation.resets).toEqual(["carol"]);
    expect(logged).toContainEqual({
      message: expect.stringMatching(/client registered again: its pools were reset/) as unknown,
      fields: { client: "carol" },
    });
    expect(peerOf("carol").pools).toEqual({
      client_owned: { blocks: 0, size: 0, used: 0, available: 0 },
      hub_owned: { blocks: 0, size: 0, used: 0, available: 0 },
    });
    expect(peerOf("carol").local_pool).toEqual({ owner: "local", blocks: [] });
    const err = await apiError(post(api, mirror, 2));
    expect(err.status).toBe(401);
  } finally {
    api.close();
  }
});

test("inactive: the hub answers as itself ({} and its extensions), and registering again changes nothing", async () => {
  active = false;
  const mirror = await provisionMirror(hub, "carol", { encryptors: ["sam"] });
  const api = new HubApi(url, { auth: { resolvePeer: () => mirror.peerAuth } });
  try {
    expect((await register(api)).extensions).toEqual(["batch"]);
    expect(await register(api)).toMatchObject({ hub_name: "hank", has_psrd: true });
    expect(await post(api, mirror, 1)).toEqual({});
    expect(emulation.resets).toEqual([]);
    expect(peerOf("carol").pools.client_owned.blocks).toBeGreaterThan(0);
  } finally {
    api.close();
  }
});
