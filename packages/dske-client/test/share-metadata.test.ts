/**
 * share-metadata.ts against fake hubs: "not for this SAE" (ETSI 401) is decided from the hubs'
 * share metadata; an unbound share (a reference client's, listed with `slave_sae_ids: []` by a hub
 * in reference-client mode) is for every SAE, never "not for this SAE".
 */
import type { ShareMeta } from "@dske/protocol";
import { intendedSlaves, notIntendedFor, type ShareMetadataSource } from "../src/share-metadata";

function fakeHub(held: string[], meta: ShareMeta[]): ShareMetadataSource {
  return {
    registered: true,
    sharesHeld: (ids) => Promise.resolve(ids.filter((id) => held.includes(id))),
    listShares: (ids) => Promise.resolve(meta.filter((m) => ids.includes(m.key_id))),
  };
}

describe("notIntendedFor", () => {
  const bound: ShareMeta = { key_id: "k-bound", master_sae_id: "sam", slave_sae_ids: ["sara"] };
  const unbound: ShareMeta = { key_id: "k-unbound", master_sae_id: "carol", slave_sae_ids: [] };
  const hubs = [fakeHub(["k-bound", "k-unbound"], [bound, unbound]), fakeHub(["k-bound", "k-unbound"], [unbound])];

  test("a bound share for another SAE is not for this SAE; an unbound one is for every SAE", async () => {
    expect([...(await notIntendedFor(hubs, "sunny", ["k-bound", "k-unbound"]))]).toEqual(["k-bound"]);
    expect([...(await notIntendedFor(hubs, "sara", ["k-bound", "k-unbound"]))]).toEqual([]);
  });

  test("an unbound share names no slave SAE to hold a multicast key for", async () => {
    const intended = await intendedSlaves(hubs, ["k-unbound"], 2);
    expect(intended.get("k-unbound")).toEqual(new Set());
  });
});
