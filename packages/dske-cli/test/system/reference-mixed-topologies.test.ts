/**
 * Issue 14's end-to-end proof, part 2: a topology that mixes reference clients and hubs with ours
 * exchanges keys between every pair of SAEs, 128 and 256 bits, every direction, over our hubs,
 * over reference hubs and over a mix (one topology start per describe). Our hubs and our clients
 * carol (sam) and celia (serena) are real processes started by dske-cli (our clients get
 * `--reference-saes` and `--reference-hubs`, our hubs `--reference-clients`); the reference
 * clients curtis (sunny) and connie (sofia) are emulated in this process (reference-client/), and
 * the reference hubs are StubReferenceHub instances (reference-client/stub-reference-hub.ts,
 * written from the reference's protocol guide) listening in this process on the topology's ports.
 * Pairs include ours ↔ reference both ways, reference ↔ reference, and ours ↔ ours (over
 * reference hubs too), and every reference hub carried a share of every key. Ports 19480-19488,
 * 19490-19498, 19500-19508.
 */
import { keyPairOverGet } from "./reference-client/etsi-get";
import { closeAll, startEmulatedClients, whenAllStarted } from "./reference-client/emulated-clients";
import type { KmeServer } from "./reference-client/kme-server";
import { StubReferenceHub } from "./reference-client/stub-reference-hub";
import { topologyYaml, type TopologyNode } from "./reference-client/topology-yaml";
import { eventually, SYSTEM_TIMEOUT, SystemTopology, UUID_RE } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const OUR_CLIENTS: TopologyNode[] = [
  { name: "carol", encryptors: ["sam"] },
  { name: "celia", encryptors: ["serena"] },
];
const REFERENCE_CLIENTS: TopologyNode[] = [
  { name: "curtis", encryptors: ["sunny"], implementation: "reference" },
  { name: "connie", encryptors: ["sofia"], implementation: "reference" },
];
const REFERENCE_SAES = new Set(["sunny", "sofia"]);
const SAES = ["sam", "serena", "sunny", "sofia"];
const CASES = SAES.flatMap((master) =>
  SAES.filter((s) => s !== master).flatMap((slave) => [128, 256].map((bits) => ({ master, slave, bits }))),
);

interface OurPeerHub {
  hub_name: string;
  registered: boolean;
  auth_scheme: string | null;
  implementation?: string;
  notice?: string;
  psrd: { delivery: string; bundles_installed: number };
}

/** One topology: the hubs named in `referenceHubs` are reference hubs (stubs in this process), the others ours. */
function mixedTopology(title: string, basePort: number, referenceHubs: readonly string[]): void {
  describe(title, () => {
    let topology: SystemTopology | undefined;
    const t = (): SystemTopology => {
      if (!topology) throw new Error("the topology did not start");
      return topology;
    };
    let emulators: KmeServer[] = [];
    const stubs: StubReferenceHub[] = [];

    beforeAll(async () => {
      topology = new SystemTopology(
        basePort,
        {},
        topologyYaml({
          settings: {
            min_nr_shares: 3,
            allowed_auth_schemes: ["gf128", "hmac-sha256"],
            // psrd_delivery stays `bundle` (the default): our clients get PSRD from our hubs in bundles
            // (their local distributors run only then); reference clients by GET psrd in the hubs'
            // reference-client mode, and our clients from reference hubs by GET psrd.
            key_stock_ahead_ms: 0,
          },
          hubs: HUBS.map((name) => (referenceHubs.includes(name) ? { name, implementation: "reference" as const } : { name })),
          clients: [...OUR_CLIENTS, ...REFERENCE_CLIENTS],
        }),
      );
      for (const name of referenceHubs) {
        const stub = new StubReferenceHub(name);
        await stub.listen(topology.node(name).port);
        stubs.push(stub);
      }
      const r = await topology.cli("start");
      if (r.code !== 0) throw new Error(`dske-cli start failed: ${r.stderr}`);
      emulators = await startEmulatedClients(
        topology,
        REFERENCE_CLIENTS.map((c) => c.name),
      );
      await whenAllStarted(emulators);
    }, SYSTEM_TIMEOUT);

    afterAll(async () => {
      await closeAll(emulators);
      await topology?.cli("stop");
      await Promise.all(stubs.map((s) => s.close()));
    }, SYSTEM_TIMEOUT);

    it("covers every ordered pair of the four SAEs at 128 and 256 bits", () => {
      expect(CASES).toHaveLength(24);
      expect(stubs.map((s) => s.name)).toEqual([...referenceHubs]);
    });

    it("our clients registered with every hub; the reference hubs the reference's way, flagged in their status", async () => {
      for (const c of OUR_CLIENTS) {
        const hubs = (await t().status(c.name)) as { peer_hubs: OurPeerHub[]; reference_hubs: string[] };
        expect(hubs.reference_hubs).toEqual([...referenceHubs]);
        for (const h of hubs.peer_hubs) {
          const reference = referenceHubs.includes(h.hub_name);
          expect([c.name, h.hub_name, h.registered]).toEqual([c.name, h.hub_name, true]);
          if (reference) {
            expect(h).toMatchObject({ auth_scheme: "hmac-sha256", implementation: "reference", psrd: { delivery: "reference-network" } });
            expect(h.notice).toBe("reference hub: PSRD over the network, unauthenticated");
          } else {
            expect([h.hub_name, h.implementation, h.psrd.delivery, h.auth_scheme]).toEqual([h.hub_name, undefined, "bundle", "gf128"]);
            expect(h.psrd.bundles_installed).toBeGreaterThan(0);
          }
        }
      }
      // Each reference hub: unauthenticated registrations of all four clients, and PSRD fetched by each for both pools.
      for (const s of stubs) {
        expect([s.name, [...new Set(s.registrations)].sort()]).toEqual([s.name, ["carol", "celia", "connie", "curtis"]]);
        for (const c of ["carol", "celia"]) expect([s.name, c, s.psrdRequests.includes(`${c}:client`)]).toEqual([s.name, c, true]);
        for (const c of ["carol", "celia"]) expect([s.name, c, s.psrdRequests.includes(`${c}:hub`)]).toEqual([s.name, c, true]);
      }
    });

    it.each(CASES)("$master -> $slave, $bits bits: the same key on both sides", async ({ master, slave, bits }) => {
      const pair = await keyPairOverGet(t(), master, slave, bits);
      expect(pair.enc.key_ID).toMatch(UUID_RE);
      expect(Buffer.from(pair.enc.key, "base64")).toHaveLength(bits / 8);
      expect(pair.dec).toEqual(pair.enc);
      // The reference KME answers enc_keys with one object, ours with a list (ETSI); dec_keys is a list on both.
      expect(pair.encShape).toBe(REFERENCE_SAES.has(master) ? "object" : "list");
      expect(pair.decShape).toBe("list");
      // Every reference hub carried a share of it, posted in the reference's v1 body (client_name = the master's client).
      // Our clients answer enc_keys once k hubs acknowledged; the other shares finish in the
      // background (scatter.ts), so wait for them (a share that never comes times out here).
      const posted = `${t().kmeOf(master).name}:${pair.enc.key_ID}`;
      const missing = (): string[] => stubs.filter((s) => !s.postedShares.includes(posted)).map((s) => s.name);
      await eventually(`a share of ${posted} at every reference hub`, () => Promise.resolve(missing().length === 0), 20_000, 20).catch(
        () => undefined,
      );
      expect(missing()).toEqual([]);
    });
  });
}

mixedTopology("our and reference clients over our hubs", 19480, []);
mixedTopology("our and reference clients over reference hubs (ours <-> ours included)", 19490, HUBS);
mixedTopology("our and reference clients over a mix of hubs (3 ours, 2 reference)", 19500, ["holly", "hugo"]);
