/**
 * The hubs' `ack` extension from the client side: a responder that crashes after the hubs released
 * their shares but before it answered its SAE does not lose the key. The crash is simulated by
 * fetching the shares from every hub through the client's PeerHubs (the hubs release them) and
 * discarding the result, then replacing the client by a fresh one on the same PSRD store.
 */
import type { ClientOptions } from "../src/client";
import { mergeClientOptions, startClient, startNetwork, waitFor, type TestClient, type TestNetwork } from "./harness";
import { EtsiApiError } from "@dske/protocol";

const DIRECTORY = { sam: "carol", sue: "carol", sunny: "curtis", susan: "curtis" };

/** Fetch and discard the shares of `id` from every hub, as a responder that died right after. */
async function fetchAndDiscard(c: TestClient, id: string): Promise<number> {
  let released = 0;
  for (const h of c.client.peerHubs) {
    const got = await h.fetchShares("curtis", [{ masterSae: "sam", slaveSae: "sunny", keyId: id }]);
    for (const s of got.values()) {
      s.y.fill(0);
      released++;
    }
  }
  return released;
}

/** Stop a client without closing its PSRD store (the "crash"), and start a fresh one on that store. */
async function restartOnSameStore(net: TestNetwork, c: TestClient, extra: Partial<ClientOptions> = {}): Promise<TestClient> {
  await new Promise<void>((r) => {
    c.server.close(() => r());
    c.server.closeAllConnections();
  });
  await c.client.stop();
  const fresh = await startClient(
    mergeClientOptions(
      {
        name: "curtis",
        encryptors: ["sunny", "susan"],
        hubs: net.hubs.map((h) => h.url),
        minNrShares: 3,
        kmeDirectory: DIRECTORY,
        psrdStore: c.store,
        stateDir: c.stateDir,
      },
      extra,
    ) as ClientOptions,
  );
  await fresh.client.whenRegistered();
  return fresh;
}

describe("ack extension (client)", () => {
  let net: TestNetwork;
  let fresh: TestClient[] = [];
  beforeEach(async () => {
    net = await startNetwork({
      hubs: ["hank", "helen", "hilary", "holly", "hugo"],
      k: 3,
      client: { link: { ackFlushMs: 60_000 } },
      stateDirs: true,
    });
    fresh = [];
  });
  afterEach(async () => {
    for (const c of fresh) await c.close();
    await net.close();
  });
  const restart = async (extra: Record<string, unknown>): Promise<TestClient> => {
    const c = await restartOnSameStore(net, net.curtis, extra);
    fresh.push(c);
    return c;
  };

  test("shares released to a responder that died before answering are fetched again: the same key is delivered", async () => {
    expect(net.curtis.client.peerHubs.every((h) => h.supportsAck)).toBe(true);
    const got = await net.carol.etsi("sam").getKey("sunny");
    const id = got.keys[0].key_ID;
    expect(await fetchAndDiscard(net.curtis, id)).toBe(5);
    // Every hub keeps its share, awaiting curtis's acknowledgement (status: no values).
    for (const h of net.hubs) {
      expect(h.hub.status().shares.find((s) => s.key_id === id)?.pending_ack).toEqual(["curtis"]);
    }
    const curtis = await restart({ link: { ackFlushMs: 100 } });
    const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", id);
    expect(back.keys).toEqual(got.keys);
    // Delivered once only.
    const twice = await curtis
      .etsi("sunny")
      .getKeyWithKeyId("sam", id)
      .catch((e: unknown) => e);
    expect((twice as EtsiApiError).status).toBe(400);
    // The acknowledgements go to the hubs that released shares to the new client; they delete them.
    const fetchedFrom = net.hubs.filter((h) => h.hub.status().shares.some((s) => s.key_id === id));
    expect(fetchedFrom.length).toBe(5);
    await curtis.client.flushAcks();
    const left = net.hubs.filter((h) => h.hub.status().shares.some((s) => s.key_id === id)).map((h) => h.name);
    // Also the hubs the new client did not ask (it needs k = 3 shares): it acknowledges the key to
    // every hub, so none keeps its share until the timeout.
    expect(left).toEqual([]);
    expect(curtis.client.peerHubs.reduce((n, h) => n + h.pendingAckCount, 0)).toBe(0);
  });

  test("acknowledgements ride on the next fetch to the same hub (flush timer off: no ack-only message)", async () => {
    const first = await net.carol.etsi("sam").getKey("sunny");
    const id1 = first.keys[0].key_ID;
    expect((await net.curtis.etsi("sunny").getKeyWithKeyId("sam", id1)).keys).toEqual(first.keys);
    const releasedTo = net.hubs.filter((h) =>
      h.hub
        .status()
        .shares.find((s) => s.key_id === id1)
        ?.pending_ack?.includes("curtis"),
    );
    expect(releasedTo.length).toBeGreaterThanOrEqual(3);
    // One pending ack per hub: the k+ hubs that released a share and the others (they drop theirs too).
    const pending = net.curtis.client.peerHubs.reduce((n, h) => n + h.pendingAckCount, 0);
    expect(pending).toBe(net.hubs.length);
    // A batch of keys goes to every hub in wave 1 or 2; the acks of id1 ride along.
    for (let i = 0; i < 5; i++) {
      const more = await net.carol.etsi("sam").getKey("sunny");
      expect((await net.curtis.etsi("sunny").getKeyWithKeyId("sam", more.keys[0].key_ID)).keys).toEqual(more.keys);
    }
    const stillPending = net.hubs.filter((h) =>
      h.hub
        .status()
        .shares.find((s) => s.key_id === id1)
        ?.pending_ack?.includes("curtis"),
    );
    expect(stillPending.length).toBeLessThan(releasedTo.length);
  });

  test("with no fetch to ride on, the flush timer sends the acknowledgements alone: every hub drops the share", async () => {
    const curtis = await restart({ link: { ackFlushMs: 100 } });
    const got = await net.carol.etsi("sam").getKey("sunny");
    const id = got.keys[0].key_ID;
    expect((await curtis.etsi("sunny").getKeyWithKeyId("sam", id)).keys).toEqual(got.keys);
    // No further request to any hub: only the timer's ack-only messages can make them drop it.
    await waitFor(() => net.hubs.every((h) => !h.hub.status().shares.some((s) => s.key_id === id)), 20_000, "every hub dropped the share");
    expect(curtis.client.peerHubs.reduce((n, h) => n + h.pendingAckCount, 0)).toBe(0);
  });

  test("a graceful stop sends the pending acknowledgements: the hubs drop the shares at once", async () => {
    const got = await net.carol.etsi("sam").getKey("sunny");
    const id = got.keys[0].key_ID;
    expect((await net.curtis.etsi("sunny").getKeyWithKeyId("sam", id)).keys).toEqual(got.keys);
    const releasedTo = net.hubs.filter((h) =>
      h.hub
        .status()
        .shares.find((s) => s.key_id === id)
        ?.pending_ack?.includes("curtis"),
    );
    expect(releasedTo.length).toBeGreaterThanOrEqual(3);
    expect(net.curtis.client.peerHubs.reduce((n, h) => n + h.pendingAckCount, 0)).toBe(net.hubs.length);
    await restart({ link: { ackFlushMs: 60_000 } }); // stops the old client gracefully (flush timer is 60 s)
    for (const h of net.hubs) expect(h.hub.status().shares.some((s) => s.key_id === id)).toBe(false);
  });

  test("without the extension (v1 behaviour) the hubs delete on fetch and the crashed responder's key is lost", async () => {
    const v1 = await restart({ link: { ackExtension: false } });
    expect(v1.client.peerHubs.some((h) => h.supportsAck)).toBe(false);
    const got = await net.carol.etsi("sam").getKey("sunny");
    const id = got.keys[0].key_ID;
    expect(await fetchAndDiscard(v1, id)).toBe(5);
    expect(net.hubs.every((h) => !h.hub.status().shares.some((s) => s.key_id === id))).toBe(true);
    const lost = await v1
      .etsi("sunny")
      .getKeyWithKeyId("sam", id)
      .catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(EtsiApiError);
  });
});
