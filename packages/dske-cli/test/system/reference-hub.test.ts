/**
 * System (issue 14): our clients against hubs that answer like the reference implementation's
 * hub (test-only fault `reference_hub`, packages/dske-hub/src/testing/reference-hub.ts): POST
 * key-share answered with a signed `null`, no extensions, and a client that registers again gets
 * its pools reset. Real processes (3 hubs behind recording proxies, 2 clients, k = 2, the
 * reference's hmac-sha256): every share post counts as stored, no client ever registers again,
 * keys keep flowing for many keys and both sides' pools stay in step block for block. A positive
 * control shows the emulation bites: a client that does register again (a restart) is cut off.
 * Ports 19540-19544.
 */
import { defined } from "../defined";
import { eventually, SYSTEM_TIMEOUT } from "./harness";
import { logLines } from "./log-lines";
import { RealNet } from "./real-net";

jest.setTimeout(SYSTEM_TIMEOUT);

const HUBS = ["hank", "helen", "hilary"];
const KEYS = 60;
const net = new RealNet({
  basePort: 19540,
  hubs: HUBS,
  clients: [
    { name: "carol", encryptors: ["sam"] },
    { name: "curtis", encryptors: ["sunny"] },
  ],
  k: 2,
  authSchemes: ["hmac-sha256"],
  // Every enc_keys reaches the hubs (no key stock): KEYS keys are KEYS posts per hub.
  clientArgs: ["--key-stock-ahead-ms", "0"],
});

beforeAll(async () => {
  for (const h of HUBS) net.setFaults(h, { reference_hub: true });
  await net.start();
}, 120_000);
afterAll(async () => {
  await net.stop();
}, 120_000);

interface BlockPool {
  blocks: { uuid: string; size: number; nr_used_bytes: number; nr_unused_bytes: number }[];
  owner: string;
}
interface PeerHub {
  hub_name: string;
  registered: boolean;
  extensions: string[];
  last_error: string | null;
  local_pool: BlockPool;
}

const peerHubs = async (client: string) => ((await net.status(client)) as { peer_hubs: PeerHub[] }).peer_hubs;
const exchanges = (hub: string, method: string, suffix: string) =>
  net.proxy(hub).exchanges.filter((e) => e.method === method && e.url.split("?")[0] === `/hub/${hub}${suffix}`);

test("registered as with a reference hub: no extensions, hmac-sha256", async () => {
  for (const c of ["carol", "curtis"]) {
    const hubs = await peerHubs(c);
    expect(hubs.map((h) => [h.hub_name, h.registered, h.extensions])).toEqual(HUBS.map((h) => [h, true, []]));
  }
});

test(`${KEYS} keys through hubs that answer null: all stored, never a re-registration, pools in step`, async () => {
  const lanes = 4;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let i = 0; i < KEYS / lanes; i++) {
        const { enc, dec } = await net.keyPair("sam", "sunny");
        expect(dec).toEqual(enc);
      }
    }),
  );
  await net.quiesce();
  for (const hub of HUBS) {
    const posts = exchanges(hub, "POST", "/dske/api/v1/key-share");
    // Every key's share went to every hub, one share per message, and each answer was the signed `null`.
    expect([hub, posts.length]).toEqual([hub, KEYS]);
    for (const p of posts)
      expect([hub, p.status, p.resBody.toString(), typeof p.resHeaders["dske-signature"]]).toEqual([hub, 200, "null", "string"]);
    expect(exchanges(hub, "POST", "/dske/api/v1/key-shares")).toEqual([]);
    // Each client registered once with each hub, and never again.
    expect([hub, exchanges(hub, "PUT", "/dske/oob/v1/registration").length]).toEqual([hub, 2]);
    expect(net.logOf(hub)).not.toMatch(/registered again/);
  }
  for (const c of ["carol", "curtis"]) {
    expect(net.logOf(c)).not.toMatch(/re-registering|unexpected response body/);
    for (const h of await peerHubs(c)) expect([c, h.hub_name, h.registered, h.last_error]).toEqual([c, h.hub_name, true, null]);
  }
  // Pools in step: carol's client-owned pool with each hub, block for block, as each hub sees it.
  for (const hub of HUBS) {
    const mine = defined((await peerHubs("carol")).find((h) => h.hub_name === hub)).local_pool;
    const s = (await net.status(hub)) as { peer_clients: { client_name: string; peer_pool: BlockPool }[] };
    const theirs = defined(s.peer_clients.find((c) => c.client_name === "carol")).peer_pool;
    expect(theirs.blocks).toEqual(mine.blocks);
    expect(mine.blocks.length).toBeGreaterThan(0);
  }
});

test("positive control: a client that registers again (restart) gets its pools reset by these hubs, and is cut off", async () => {
  await net.stopNode("curtis");
  await net.spawn(net.node("curtis"));
  await eventually("every hub to reset curtis's pools", () =>
    Promise.resolve(
      HUBS.every((h) => logLines(net.logOf(h)).some((l) => /client registered again/.test(String(l.msg)) && l.client === "curtis")),
    ),
  );
  const enc = await net.encKeys("sam", "sunny");
  expect(enc.status).toBe(200);
  const ids = (enc.data as { keys: { key_ID: string }[] }).keys.map((k) => k.key_ID);
  const dec = await net.decKeys("sunny", "sam", ids);
  expect(dec.status).not.toBe(200); // curtis's old blocks are unknown to the hubs now
});
