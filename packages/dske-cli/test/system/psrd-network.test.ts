/**
 * A topology with `psrd_delivery: network`, started by dske-cli: each client gets its first bundle
 * from each hub's local distributor (its enrollment secret), then refills its pools with
 * authenticated `GET psrd` calls. Before, dske-cli gave the hubs no distribution plan in this
 * mode, so no first bundle came and no client ever became ready. Ports 19520-19529.
 */
import { keyPair, runningTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

// Small pools, so that the keys below need refills well beyond the first bundle's bytes.
const t = runningTopology(19520, {
  psrd_delivery: "network",
  initial_psrd_bytes: 1024,
  start_request_psrd_threshold: 400,
  stop_request_psrd_threshold: 1200,
  get_psrd_block_size: 600,
});

interface PeerHubView {
  hub_name: string;
  registered: boolean;
  pools: { client_owned: { used: number }; hub_owned: { used: number } };
  psrd: { delivery: string; bundles_installed: number };
}

async function peerHubs(client: string): Promise<PeerHubView[]> {
  return (await t.status(client)).peer_hubs as PeerHubView[];
}

test("keys flow; after the first bundle every refill came over the network (GET psrd)", async () => {
  for (let i = 0; i < 12; i++) {
    const { enc, dec } = await keyPair(t, "sam", "sunny", { size: 256, number: 5 });
    expect(enc).toHaveLength(5);
    expect(dec.sunny).toEqual(enc);
  }
  const master = t.kmeOf("sam").name;
  const slave = t.kmeOf("sunny").name;
  for (const client of [master, slave]) {
    const hubs = await peerHubs(client);
    expect(hubs).toHaveLength(5);
    for (const h of hubs) {
      expect({ hub: h.hub_name, registered: h.registered, delivery: h.psrd.delivery }).toEqual({
        hub: h.hub_name,
        registered: true,
        delivery: "network",
      });
      expect(h.psrd.bundles_installed).toBe(1); // the enrollment only
    }
  }
  // The first bundle held 1024 bytes per pool: the master posted to every hub with more than
  // that, and the slave (which fetches from k hubs at a time) took more from some hub.
  for (const h of await peerHubs(master)) expect(h.pools.client_owned.used).toBeGreaterThan(1024);
  expect(Math.max(...(await peerHubs(slave)).map((h) => h.pools.hub_owned.used))).toBeGreaterThan(1024);
});
