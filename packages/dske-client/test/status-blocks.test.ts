/**
 * The reference's block view in the management status (`local_pool` / `peer_pool` per peer hub):
 * the client's `local_pool` is the client-owned pool and matches its hub's `peer_pool` of this
 * client block for block (and the other way round); the status never carries block bytes.
 */
import type { BlockPoolStatus } from "@dske/protocol";
import { defined } from "./defined";
import { startNetwork, waitFor, type TestNetwork } from "./harness";

let net: TestNetwork;
beforeAll(async () => {
  net = await startNetwork({ hubs: ["hank", "helen", "hilary"], k: 2 });
});
afterAll(() => (net as TestNetwork | undefined)?.close());

interface PeerHubView {
  hub_name: string;
  local_pool: BlockPoolStatus;
  peer_pool: BlockPoolStatus;
}

const clientView = (hub: string): PeerHubView =>
  defined((net.carol.client.mgmtStatus() as { peer_hubs: PeerHubView[] }).peer_hubs.find((h) => h.hub_name === hub));
const hubView = (i: number) => defined(net.hubs[i].hub.status().peer_clients.find((c) => c.client_name === "carol"));
const uuids = (p: BlockPoolStatus | undefined) => defined(p).blocks.map((b) => b.uuid);

test("carol's local_pool at each hub is the hub's peer_pool of carol, and the other way round; no bytes", async () => {
  for (let i = 0; i < 4; i++) {
    const got = await net.carol.etsi("sam").getKey("sunny");
    await net.curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
  }
  for (const [i, h] of net.hubs.entries()) {
    const mine = clientView(h.name);
    expect(mine.local_pool.owner).toBe("local");
    expect(mine.peer_pool.owner).toBe("peer");
    expect(mine.local_pool.blocks.length).toBeGreaterThan(0);
    expect(Object.keys(mine.local_pool.blocks[0]).sort()).toEqual(["nr_unused_bytes", "nr_used_bytes", "size", "uuid"]);
    expect(mine.local_pool.blocks[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
    for (const b of mine.local_pool.blocks) expect(b.nr_used_bytes + b.nr_unused_bytes).toBe(b.size);
    // The hub takes exactly what carol allocated from the client-owned pool: same blocks, same usage once quiet.
    await waitFor(
      () => JSON.stringify(hubView(i).peer_pool?.blocks) === JSON.stringify(clientView(h.name).local_pool.blocks),
      10_000,
      `${h.name}'s view of carol's client-owned pool`,
    );
    // The hub-owned pool: the same blocks (the hub consumes a few response pads ahead of use).
    expect(uuids(hubView(i).local_pool)).toEqual(uuids(clientView(h.name).peer_pool));
  }
  expect(JSON.stringify(net.carol.client.mgmtStatus())).not.toMatch(/"data"/);
});
