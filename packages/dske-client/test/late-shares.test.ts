/**
 * A lying hub among the first k shares, the honest rest still in flight: the initiator answers
 * enc_keys once k hubs acknowledged and posts to the others in the background (scatter.ts), so a
 * responder asking at once may find only those k shares, one of them bad, which do not
 * reconstruct. It must ask again for the shares in flight (as it does when fewer than k arrived),
 * not answer 503. In-process network (5 hubs, k = 3); helen corrupts every share she hands out;
 * holly and hugo hold the initiator's share posts until the responder has asked them once.
 */
import type express from "express";
import { corruptShares } from "../../dske-hub/src/testing/faults";
import { startHub, startNetwork, type TestHub, type TestNetwork } from "./harness";

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const LATE = new Set(["holly", "hugo"]);

/** Per late hub: share posts held, and whether the responder has asked this hub yet. */
const gates = new Map<string, { held: (() => void)[]; asked: boolean }>();

/** Hold POST key-share(s) until a share fetch (GET key-share, POST key-shares/fetch) was answered. */
function lateShares(name: string) {
  const gate = { held: [] as (() => void)[], asked: false };
  gates.set(name, gate);
  return (app: express.Express) => {
    app.use((req, res, next) => {
      const p = req.path;
      const isPost = req.method === "POST" && (p.endsWith("/dske/api/v1/key-share") || p.endsWith("/dske/api/v1/key-shares"));
      const isFetch =
        (req.method === "GET" && p.endsWith("/dske/api/v1/key-share")) ||
        (req.method === "POST" && p.endsWith("/dske/api/v1/key-shares/fetch"));
      if (isPost && !gate.asked) {
        gate.held.push(() => next());
        return;
      }
      if (isFetch) {
        res.on("finish", () => {
          gate.asked = true;
          for (const release of gate.held.splice(0)) release();
        });
      }
      next();
    });
  };
}

let net: TestNetwork;

beforeAll(async () => {
  net = await startNetwork({
    hubs: HUBS,
    k: 3,
    startHub: (name): Promise<TestHub> => startHub(name, LATE.has(name) ? { before: lateShares(name) } : {}),
    // No key stock: the key must be established by this enc_keys, its shares posted now.
    client: { stock: { aheadMs: 0 } },
  });
}, 120_000);

afterAll(async () => {
  for (const g of gates.values()) for (const release of g.held.splice(0)) release();
  await net.close();
});

test("one bad share among the k that arrived first, the honest rest in flight: the responder waits for them and delivers the right key", async () => {
  const helen = net.hubs.find((h) => h.name === "helen");
  if (!helen) throw new Error("no hub helen");
  const restore = corruptShares(helen.hub, () => 0x01);
  try {
    const enc = await net.carol.etsi("sam").getKey("sunny", { number: 1, size: 256 });
    const keyId = enc.keys[0].key_ID;
    // enc_keys answered with three acknowledgements; the late hubs hold the share posts.
    const holding = (name: string) =>
      net.hubs
        .find((h) => h.name === name)
        ?.hub.status()
        .shares.some((s) => s.key_id === keyId);
    expect([holding("holly"), holding("hugo")]).toEqual([false, false]);
    expect(gates.get("holly")?.held.length).toBeGreaterThan(0);

    const dec = await net.curtis.etsi("sunny").getKeysWithKeyIds("sam", [keyId]);
    expect(dec.keys).toEqual(enc.keys);
    // The late hubs were asked before their shares landed (the case under test happened).
    expect([gates.get("holly")?.asked, gates.get("hugo")?.asked]).toEqual([true, true]);
  } finally {
    restore();
  }
});
