/**
 * PSRD delivery at the client (in process, real bundle files): installs by the hubs' local
 * distributors, refused bundles that leave nothing installed, idempotent retried installs, and the
 * optional network delivery (enrollment secret, blocks confirmed in band before use).
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HubApi } from "@dske/protocol";
import { startClient, startHub, startNetwork, waitFor, type TestHub, type TestNetwork } from "./harness";
import { BundleInstallError } from "../src/bundle-installer";
import { defined } from "./defined";

type Pool = { blocks: number; size: number; available: number };
type Pools = { client_owned: Pool; hub_owned: Pool };

/**
 * What installs change: blocks and total bytes of both pools (not `available`: background
 * messages such as acknowledgements spend signing pads at any time).
 */
function poolsOf(
  net: TestNetwork,
  client: "carol" | "curtis",
  hub: string,
): { client_owned: Omit<Pool, "available">; hub_owned: Omit<Pool, "available"> } {
  const st = net[client].client.mgmtStatus() as { peer_hubs: { hub_name: string; pools: Pools }[] };
  const p = defined(
    st.peer_hubs.find((h) => h.hub_name === hub),
    `hub ${hub}`,
  ).pools;
  return {
    client_owned: { blocks: p.client_owned.blocks, size: p.client_owned.size },
    hub_owned: { blocks: p.hub_owned.blocks, size: p.hub_owned.size },
  };
}

function seqOf(net: TestNetwork, client: "carol" | "curtis", hub: string): number {
  const st = net[client].client.mgmtStatus() as { peer_hubs: { hub_name: string; psrd: { bundles_installed: number } }[] };
  return defined(
    st.peer_hubs.find((h) => h.hub_name === hub),
    `hub ${hub}`,
  ).psrd.bundles_installed;
}

describe("bundles at the client", () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await startNetwork({ hubs: ["hank", "helen", "hilary"], k: 2 });
    // The clients hold their first bundles now; these tests issue and install by hand, with no
    // distributor issuing bundles of its own in between (seq numbers are asserted).
    await Promise.all([...net.carol.distributors, ...net.curtis.distributors].map((d) => d.stop()));
  });
  afterAll(() => net.close());

  test("every client got its first bundle from every hub and registered with it; keys flow", async () => {
    for (const c of ["carol", "curtis"] as const) {
      for (const h of net.hubs) {
        expect(seqOf(net, c, h.name)).toBeGreaterThanOrEqual(1);
        expect(poolsOf(net, c, h.name).client_owned.size).toBeGreaterThan(0);
      }
    }
    const got = await net.carol.etsi("sam").getKey("sunny");
    expect((await net.curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID)).keys).toEqual(got.keys);
  });

  test("a bundle issued by hand installs once: pools grow, the file is destroyed; a retried install is a no-op", async () => {
    const hank = net.hubs[0];
    const before = poolsOf(net, "curtis", "hank");
    const seq = seqOf(net, "curtis", "hank");
    const issued = await hank.hub.issueBundle("curtis", 10_000, 20_000);
    expect(issued.seq).toBe(seq + 1);
    const r = await net.curtis.client.installBundle(issued.file);
    expect(r).toMatchObject({ hub_name: "hank", seq: seq + 1, client_owned_bytes: 10_000, hub_owned_bytes: 20_000 });
    expect(existsSync(issued.file)).toBe(false);
    const after = poolsOf(net, "curtis", "hank");
    expect(after.client_owned.size - before.client_owned.size).toBe(10_000 + 16 * Math.ceil(10_000 / (4 * 1024 * 1024)));
    expect(after.hub_owned.size - before.hub_owned.size).toBe(20_000 + 16);
    expect(seqOf(net, "curtis", "hank")).toBe(seq + 1);
    // The distributor lost the answer and retries: already installed, nothing happens.
    await expect(net.curtis.client.installBundle(issued.file)).resolves.toMatchObject({ hub_name: "hank", seq: seq + 1, blocks: 0 });
    expect(poolsOf(net, "curtis", "hank")).toEqual(after);
  });

  test("tampered, truncated, replayed, foreign and out-of-order bundles are refused and install nothing", async () => {
    const hank: TestHub = net.hubs[0];
    const refusedWith = async (file: string, code: string) => {
      const pools = poolsOf(net, "curtis", "hank");
      const seqs = net.hubs.map((h) => seqOf(net, "curtis", h.name));
      const err = await net.curtis.client.installBundle(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BundleInstallError);
      expect((err as BundleInstallError).bundleCode ?? (err as BundleInstallError).code).toBe(code);
      expect((err as Error).message).toMatch(/refused, nothing installed|not one of the hubs|is from hub/);
      expect(poolsOf(net, "curtis", "hank")).toEqual(pools);
      expect(net.hubs.map((h) => seqOf(net, "curtis", h.name))).toEqual(seqs);
    };
    // A genuine next bundle, kept aside; copies of it are damaged.
    const next = await hank.hub.issueBundle("curtis", 4096, 4096);
    const genuine = readFileSync(next.file);
    const copy = (name: string, bytes: Uint8Array) => {
      const f = path.join(path.dirname(next.file), name);
      writeFileSync(f, bytes, { mode: 0o600 });
      return f;
    };
    // tampered payload byte (the SHA-256 catches an accident; see the distributor tests for the MAC)
    const tampered = Buffer.from(genuine);
    tampered[tampered.length - 100] ^= 1;
    await refusedWith(copy("tampered.psrd", tampered), "corrupt");
    await refusedWith(copy("truncated.psrd", genuine.subarray(0, genuine.length - 7)), "truncated");
    // for another client: a bundle of hank for carol
    const forCarol = await hank.hub.issueBundle("carol", 4096, 4096);
    await refusedWith(forCarol.file, "wrong_client");
    // out of order: a bundle after `next` while `next` is not installed
    const later = await hank.hub.issueBundle("curtis", 4096, 4096);
    await refusedWith(later.file, "out_of_order");
    // the genuine one installs, then the later one; a copy of the genuine one is a replay
    const keep = copy("replay.psrd", genuine);
    await net.curtis.client.installBundle(next.file);
    await net.curtis.client.installBundle(later.file);
    await refusedWith(keep, "replayed");
    // a bundle from a hub this client does not use
    const stranger = await startHub("hugh");
    try {
      const s = await stranger.hub.issueBundle("curtis", 4096, 4096);
      await refusedWith(s.file, "unknown_hub");
    } finally {
      await stranger.down();
      await stranger.hub.close();
    }
    // carol's chain with hank is still at her own next seq: install it there
    await expect(net.carol.client.installBundle(forCarol.file)).resolves.toMatchObject({ hub_name: "hank" });
  });

  test("a bundle copied before install cannot be installed twice (the chain key is used once)", async () => {
    const hank = net.hubs[0];
    const issued = await hank.hub.issueBundle("carol", 2048, 2048);
    const twin = `${issued.file}.copy`;
    copyFileSync(issued.file, twin);
    await net.carol.client.installBundle(issued.file);
    const err = await net.carol.client.installBundle(twin).catch((e: unknown) => e);
    expect((err as BundleInstallError).bundleCode).toBe("replayed");
  });
});

describe("network PSRD delivery (psrd_delivery: network)", () => {
  test("the client fetches PSRD as itself (enrollment secret), confirms it in band, and keys flow; outsiders get 401", async () => {
    const hubs = await Promise.all(["hank", "helen", "hilary"].map((n) => startHub(n, { psrdDelivery: "network" })));
    const directory = { sam: "carol", sunny: "curtis" };
    const common = {
      hubs: hubs.map((h) => h.url),
      minNrShares: 2,
      kmeDirectory: directory,
      // first bundles are small: the rest comes over the network
      psrd: { delivery: "network" as const, initialBytes: 1024, blockSize: 2048 },
    };
    const carol = await startClient({ name: "carol", encryptors: ["sam"], ...common });
    const curtis = await startClient({ name: "curtis", encryptors: ["sunny"], ...common });
    try {
      await carol.client.whenRegistered();
      await curtis.client.whenRegistered();
      for (let i = 0; i < 20; i++) {
        const got = await carol.etsi("sam").getKey("sunny", { number: 4 });
        const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
        expect(back.keys[0]).toEqual(got.keys[0]);
      }
      // more PSRD than the first bundles held was used: it came over the network, and every block
      // the hub handed out gets confirmed (nothing left staged once the refills in flight settle)
      await waitFor(
        () => hubs.every((h) => h.hub.status().peer_clients.every((c) => c.psrd?.staged.blocks === 0)),
        20_000,
        "every PSRD block handed out over the network confirmed",
      );
      for (const h of hubs) {
        const st = h.hub.status();
        for (const c of st.peer_clients) {
          expect(defined(c.psrd).bundles_issued).toBe(1);
          expect(c.pools.client_owned.size + c.pools.hub_owned.size).toBeGreaterThan(2 * (1024 + 16));
          expect(defined(c.psrd).staged.blocks).toBe(0);
        }
      }
      // an outsider asking for curtis's PSRD: 401, nothing created
      const outsider = new HubApi(hubs[0].url);
      // (sizes and blocks only: background acknowledgements spend signing pads at any time)
      const sizes = () =>
        JSON.stringify(
          hubs[0].hub.status().peer_clients.map((c) => [c.client_name, c.pools.client_owned.size, c.pools.hub_owned.size, c.psrd]),
        );
      const before = sizes();
      await expect(outsider.getPsrd({ client_name: "curtis", pool_owner: "hub", size: 64 })).rejects.toMatchObject({ status: 401 });
      const wrong = new HubApi(hubs[0].url, { bearerToken: "f".repeat(64) });
      await expect(wrong.getPsrd({ client_name: "curtis", pool_owner: "client", size: 64 })).rejects.toMatchObject({ status: 401 });
      expect(sizes()).toBe(before);
      outsider.close();
      wrong.close();
    } finally {
      await carol.close();
      await curtis.close();
      for (const h of hubs) {
        await h.down();
        await h.hub.close();
      }
    }
  });
});
