/**
 * System: hub failures. With k = 3 of 5: two hubs down, keys still work; three down, ETSI 503
 * naming the shortfall; restarted hubs (with their state, or with it wiped) are used again.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { eventually, keyPair, runningTopology, SYSTEM_TIMEOUT, type EtsiKey } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = runningTopology(18300);

interface PoolStats {
  used: number;
  available: number;
}
interface HubPeer {
  client_name: string;
  pools: { client_owned: PoolStats; hub_owned: PoolStats };
}

/** Bytes hub `hub` consumed from client `client`'s pools (both directions). */
async function hubUsage(hub: string, client: string): Promise<number> {
  const s = (await t.status(hub)) as { peer_clients: HubPeer[] };
  const p = s.peer_clients.find((c) => c.client_name === client);
  return p ? p.pools.client_owned.used + p.pools.hub_owned.used : -1;
}

async function stopHubs(...hubs: string[]): Promise<void> {
  const r = await t.cli(...hubs.flatMap((h) => ["--hub", h]), "stop");
  expect(r.code).toBe(0);
}

async function startHubs(...hubs: string[]): Promise<void> {
  const r = await t.cli(...hubs.flatMap((h) => ["--hub", h]), "start");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

describe("hub failures (5 hubs, k = 3)", () => {
  it("all hubs up: keys work", async () => {
    const { enc, dec } = await keyPair(t, "sam", "sunny");
    expect(dec.sunny).toEqual(enc);
  });

  it("2 of 5 hubs stopped: keys still work, for every client", async () => {
    await stopHubs("hank", "helen");
    for (const [m, s] of [
      ["sam", "sunny"],
      ["serena", "sofia"],
      ["susan", "sam"],
    ] as const) {
      const { enc, dec } = await keyPair(t, m, s, { size: 256, number: 5 });
      expect(dec[s]).toEqual(enc);
    }
  });

  it("a key whose shares went to 3 hubs cannot be fetched once one of them is down: 503", async () => {
    const enc = await t.http.get(t.etsiUrl(t.node("carol"), "serena", "enc_keys"), { headers: { Authorization: "sam" } });
    expect(enc.status).toBe(200);
    const [key] = (enc.data as { keys: EtsiKey[] }).keys;
    await stopHubs("hilary");
    const dec = await t.http.get(t.etsiUrl(t.node("celia"), "sam", "dec_keys"), {
      params: { key_ID: key.key_ID },
      headers: { Authorization: "serena" },
    });
    expect(dec.status).toBe(503);
    expect(typeof (dec.data as { message: unknown }).message).toBe("string");
    expect(JSON.stringify(dec.data)).not.toContain(key.key);
  });

  it("3 of 5 hubs stopped: Get key answers ETSI 503 with a message naming the shortfall", async () => {
    const r = await t.http.post(t.etsiUrl(t.node("carol"), "sunny", "enc_keys"), { number: 1 }, { headers: { Authorization: "sam" } });
    expect(r.status).toBe(503);
    const body = r.data as { message: string; details?: unknown[] };
    expect(typeof body.message).toBe("string");
    // The message says how many hubs are needed (k = 3) and how many answered (2).
    expect(body.message).toMatch(/hub/i);
    expect(body.message).toMatch(/\b3\b/);
    expect(body.message).toMatch(/\b2\b/);
    // The CLI reports it as a failure.
    const cli = await t.cli("etsi-qkd", "sam", "sunny", "get-key-pair");
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("ETSI QKD Get Key API on client (KME) carol failed: HTTP 503");
  });

  it("hubs restarted with their state: clients continue and use them again", async () => {
    await startHubs("hank", "helen", "hilary");
    const before = await hubUsage("hank", "carol");
    expect(before).toBeGreaterThanOrEqual(0);
    await eventually("a key pair after the hubs came back", async () => {
      const { enc, dec } = await keyPair(t, "sam", "sunny");
      return JSON.stringify(dec.sunny) === JSON.stringify(enc);
    });
    // hank took part: it consumed PSRD shared with carol (the master) for the new key.
    await eventually("hank to serve carol again", async () => {
      await keyPair(t, "sam", "sunny");
      return (await hubUsage("hank", "carol")) > before;
    });
  });

  it("a hub that lost its state (wiped while stopped): keys flow over the others; `dske-cli psrd reset` re-provisions each client with it", async () => {
    await stopHubs("hugo");
    rmSync(path.join(t.stateDir, "nodes", "hugo"), { recursive: true, force: true });
    await startHubs("hugo");
    // The fresh hugo knows no client and the clients reset nothing by themselves (an impostor could
    // say the same); keys keep flowing over the 4 other hubs (k = 3).
    const { enc, dec } = await keyPair(t, "sam", "sofia");
    expect(dec.sofia).toEqual(enc);
    expect(((await t.status("hugo")) as { peer_clients: HubPeer[] }).peer_clients).toEqual([]);
    // The operator re-provisions every client with hugo; its local distributor delivers new first bundles.
    for (const c of ["carol", "celia", "cindy", "connie", "curtis"]) {
      const r = await t.cli("psrd", "reset", c, "hugo");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Client ${c} forgot its PSRD with hub hugo`));
    }
    await eventually(
      "every client to be provisioned and registered with hugo again",
      async () => {
        const s = (await t.status("hugo")) as { peer_clients: HubPeer[] };
        const names = s.peer_clients
          .filter((c) => c.pools.client_owned.available > 0 && c.pools.hub_owned.available > 0)
          .map((c) => c.client_name);
        return ["carol", "celia", "cindy", "connie", "curtis"].every((n) => names.includes(n));
      },
      30_000,
    );
    const before = await hubUsage("hugo", "carol");
    await eventually("keys through hugo", async () => {
      const { enc, dec } = await keyPair(t, "sam", "sofia");
      return JSON.stringify(dec.sofia) === JSON.stringify(enc) && (await hubUsage("hugo", "carol")) > before;
    });
  });
});
