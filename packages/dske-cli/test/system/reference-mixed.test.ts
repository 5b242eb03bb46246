/**
 * Issue 14's end-to-end proof, part 1: two reference clients, emulated in this process from the
 * reference's guides (reference-client/, README there), exchange 128- and 256-bit keys in both
 * directions over OUR hub processes, started by `dske-cli --hub ... start` from a topology that
 * lists the emulated clients (dske-cli starts the hubs only; the emulators listen on the ports the
 * topology assigns the clients). The hubs serve reference peers: `allowed_auth_schemes: [gf128,
 * hmac-sha256]` and `psrd_delivery: network` (the reference gets its PSRD with `GET psrd`).
 * The clients are marked `implementation: reference`, so dske-cli starts our hubs with
 * `--reference-clients carol,curtis` (the hubs' reference-client mode: registration and `GET psrd`
 * without proof, from loopback only; the v1 key-share bodies). Ports 19470-19476. The mixed
 * topologies are in reference-mixed-topologies.test.ts.
 */
import { keyPairOverGet } from "./reference-client/etsi-get";
import { closeAll, startEmulatedClients, whenAllStarted } from "./reference-client/emulated-clients";
import type { KmeServer } from "./reference-client/kme-server";
import { topologyYaml } from "./reference-client/topology-yaml";
import { SYSTEM_TIMEOUT, SystemTopology, UUID_RE } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const reference = { implementation: "reference" } as const;
const t = new SystemTopology(
  19470,
  {},
  topologyYaml({
    settings: {
      min_nr_shares: 3,
      allowed_auth_schemes: ["gf128", "hmac-sha256"],
      psrd_delivery: "network",
      get_psrd_block_size: 1000,
      start_request_psrd_threshold: 500,
      stop_request_psrd_threshold: 2000,
    },
    hubs: HUBS.map((name) => ({ name })),
    clients: [
      { name: "carol", encryptors: ["sam"], ...reference },
      { name: "curtis", encryptors: ["sunny"], ...reference },
    ],
  }),
);
const hubsOnly = HUBS.flatMap((h) => ["--hub", h]);
let emulators: KmeServer[] = [];

describe("two reference clients (emulated) over our hubs", () => {
  beforeAll(async () => {
    const r = await t.cli(...hubsOnly, "start");
    if (r.code !== 0) throw new Error(`start of the hubs failed: ${r.stderr}`);
    emulators = await startEmulatedClients(t, ["carol", "curtis"]);
    await whenAllStarted(emulators);
  }, SYSTEM_TIMEOUT);

  afterAll(async () => {
    await closeAll(emulators);
    await t.cli(...hubsOnly, "stop");
  }, SYSTEM_TIMEOUT);

  it("the topology puts the emulators on the clients' ports and dske-cli started the hubs only", () => {
    expect(emulators.map((e) => e.boundPort)).toEqual([t.node("carol").port, t.node("curtis").port]);
    expect(emulators.map((e) => e.boundPort)).toEqual([19475, 19476]);
  });

  it("each registered at every hub and holds PSRD in both pools (the reference's status JSON, no PSRD bytes)", async () => {
    for (const e of emulators) {
      const res = await t.http.get(`${e.baseUrl}/mgmt/v1/status`);
      expect(res.status).toBe(200);
      const status = res.data as {
        name: string;
        encryptor_names: string[];
        peer_hubs: { hub_name: string; registered: boolean; local_pool: PoolJson; peer_pool: PoolJson }[];
      };
      expect(status.name).toBe(e.client.name);
      expect(status.peer_hubs.map((p) => p.hub_name)).toEqual(HUBS);
      for (const p of status.peer_hubs) {
        expect(p.registered).toBe(true);
        expect(p.local_pool.owner).toBe("local");
        expect(p.peer_pool.owner).toBe("peer");
        for (const pool of [p.local_pool, p.peer_pool]) {
          expect(pool.blocks.length).toBeGreaterThan(0);
          for (const b of pool.blocks) {
            expect(Object.keys(b).sort()).toEqual(["nr_unused_bytes", "nr_used_bytes", "size", "uuid"]);
            expect(b.nr_used_bytes + b.nr_unused_bytes).toBe(b.size);
          }
        }
      }
    }
  });

  it("our hubs know them as reference (v1) peers: hmac-sha256, no extensions", async () => {
    for (const hub of HUBS) {
      const status = (await t.status(hub)) as { peer_clients: { client_name: string; auth_scheme: string; extensions: string[] }[] };
      const peers = status.peer_clients.filter((c) => c.client_name === "carol" || c.client_name === "curtis");
      expect(peers.map((c) => [c.client_name, c.auth_scheme, c.extensions]).sort()).toEqual([
        ["carol", "hmac-sha256", []],
        ["curtis", "hmac-sha256", []],
      ]);
    }
  });

  it.each([
    ["sam", "sunny", 128],
    ["sam", "sunny", 256],
    ["sunny", "sam", 128],
    ["sunny", "sam", 256],
  ])("%s -> %s, %d bits: the same key on both sides, in the reference's shapes", async (master, slave, bits) => {
    const pair = await keyPairOverGet(t, master, slave, bits);
    expect(pair.enc.key_ID).toMatch(UUID_RE);
    expect(Buffer.from(pair.enc.key, "base64")).toHaveLength(bits / 8);
    expect(pair.dec).toEqual(pair.enc);
    expect(pair.encShape).toBe("object");
    expect(pair.decShape).toBe("list");
  });

  it("a key is delivered once: the hubs dropped its shares after the responder fetched them", async () => {
    const pair = await keyPairOverGet(t, "sam", "sunny", 128);
    const again = await t.http.get(t.etsiUrl(t.node("curtis"), "sam", "dec_keys"), { params: { key_ID: pair.enc.key_ID } });
    expect(again.status).toBe(503);
    expect(JSON.stringify(again.data)).toMatch(/could not gather enough shares/);
    expect(JSON.stringify(again.data)).not.toContain(pair.enc.key);
  });
});

interface PoolJson {
  owner: string;
  blocks: { uuid: string; size: number; nr_used_bytes: number; nr_unused_bytes: number }[];
}
