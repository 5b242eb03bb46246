/**
 * Example (root, as CI): two WireGuard hosts (wireguard-go in network namespaces) whose peer
 * preshared key is rotated every 3 s by the encryptor agents from ETSI 014 keys of a running DSKE
 * topology. Pings through the tunnel across three rotations; both ends hold the same PSK each
 * time (compared by SHA-256, never printed), a new one per rotation; the agents print no key;
 * a PSK that differs between the ends stops the tunnel at the next handshake.
 * Ports: hubs 19800-19804, KMEs 19805-19806 (on the lab bridge), slave agent 19810 (in host B).
 */
import { randomBytes } from "node:crypto";
import { eventually } from "../../../packages/dske-cli/test/system/harness";
import { WireguardPskDemo, SLAVE_AGENT_PORT } from "../src/demo";
import { NO_PSK_HASH, type PskHash } from "../src/wg-hosts";
import { setPresharedKey } from "../src/wg";

jest.setTimeout(120_000);

const INTERVAL_S = 3;
let demo: WireguardPskDemo | undefined;

function d(): WireguardPskDemo {
  if (demo === undefined) throw new Error("the example did not start (see beforeAll)");
  return demo;
}

beforeAll(async () => {
  demo = await WireguardPskDemo.start({ intervalSeconds: INTERVAL_S });
}, 120_000);

afterAll(async () => {
  await demo?.stop();
}, 120_000);

/** The current preshared key of host `h`'s peer, read from `wg show` (kept in memory only, never printed). */
async function currentPsk(h: "a" | "b"): Promise<Buffer> {
  const hosts = d().hosts;
  const out = await hosts.wg(h, ["show", hosts.iface[h], "preshared-keys"]);
  return Buffer.from(out.trim().split("\t")[1] ?? "", "base64");
}

describe("example: WireGuard preshared keys rotated from DSKE keys (wireguard-go in network namespaces)", () => {
  it("pings through the tunnel across three rotations; both ends hold the same PSK each time, a new one per rotation", async () => {
    const h = d().hosts;
    const seen: PskHash[] = [NO_PSK_HASH];
    for (let i = 1; i <= 3; i++) {
      let agreed: PskHash | undefined;
      await eventually(
        `rotation ${i}: the same new PSK on both ends`,
        async () => {
          const [a, b] = [await h.pskHash("a"), await h.pskHash("b")];
          if (a !== b || seen.includes(a)) return false;
          agreed = a;
          return true;
        },
        INTERVAL_S * 1000 + 30_000,
        50,
      );
      if (agreed === undefined) throw new Error("unreachable");
      seen.push(agreed);
      // The master re-adds its peer after each rotation: a handshake is needed before traffic flows,
      // and it succeeds only when both ends use the same PSK.
      await eventually(
        `rotation ${i}: a ping through the tunnel after a fresh handshake`,
        async () => (await h.ping("a")) && (await h.latestHandshake("a")) > 0 && (await h.pskHash("a")) === (await h.pskHash("b")),
        30_000,
        100,
      );
    }
    expect(new Set(seen).size).toBe(4); // none, then three different keys
    const master = d().master?.rotations() ?? [];
    const slave = d().slave?.rotations() ?? [];
    expect(master.length).toBeGreaterThanOrEqual(3);
    // The slave set every key the master set, by the same key ID, in the same order.
    expect(slave.map((e) => e.key_ID).slice(0, 3)).toEqual(master.map((e) => e.key_ID).slice(0, 3));
    expect(new Set(master.map((e) => e.key_ID)).size).toBe(master.length);
  });

  it("the agents print key IDs but never the keys", async () => {
    const psk = (await currentPsk("a")).toString("base64");
    expect(psk).toHaveLength(44);
    for (const agent of d().agents) {
      const out = agent.output();
      expect(out).toContain('"event":"rotated"');
      expect(out.includes(psk)).toBe(false); // never print the key, even in a failure message
    }
  });

  it("the slave agent's endpoint refuses bad requests with {message, details}", async () => {
    const url = `http://${d().hosts.underlay("b")}:${SLAVE_AGENT_PORT}/psk`;
    const post = async (body: string) => {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
      return { status: r.status, body: (await r.json()) as { message?: string; details?: unknown[]; key_ID?: string } };
    };
    const bad = await post(JSON.stringify({ key: "x" }));
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe("invalid /psk request");
    expect(JSON.stringify(bad.body.details)).toContain("expected key_ID");
    const stranger = await post(JSON.stringify({ key_ID: "00000000-0000-0000-0000-000000000000", master_SAE_ID: "mallory" }));
    expect(stranger.status).toBe(403);
    expect(stranger.body.message).toContain("takes keys from sam only");
    const unknown = await post(JSON.stringify({ key_ID: "00000000-0000-0000-0000-000000000000", master_SAE_ID: "sam" }));
    expect(unknown.status).toBe(502);
    expect(unknown.body.message).toMatch(/KME .* answered HTTP 4\d\d/);
    // A master retrying the key the slave set last gets 200 again, without a second dec_keys.
    await eventually("a repeated request for the latest key ID answers 200", async () => {
      const last = d().slave?.rotations().at(-1)?.key_ID ?? "";
      const again = await post(JSON.stringify({ key_ID: last, master_SAE_ID: "sam" }));
      return again.status === 200 && again.body.key_ID === last;
    });
  });

  it("with a different PSK on one end, the next handshake fails and traffic stops; the same PSK again restores it", async () => {
    const h = d().hosts;
    await d().stopAgents();
    const good = await currentPsk("a");
    try {
      await setPresharedKey(h.iface.b, h.publicKey.a, randomBytes(32));
      await setPresharedKey(h.iface.a, h.publicKey.b, good, { rehandshake: true });
      expect(await h.pskHash("a")).not.toBe(await h.pskHash("b"));
      // Three pings, one second each: no handshake completes, nothing gets through.
      for (let i = 0; i < 3; i++) expect(await h.ping("a")).toBe(false);
      expect(await h.latestHandshake("a")).toBe(0);
      await setPresharedKey(h.iface.b, h.publicKey.a, good);
      await eventually("a ping once both ends hold the same PSK again", async () => h.ping("a"), 30_000, 100);
      expect(await h.latestHandshake("a")).toBeGreaterThan(0);
    } finally {
      good.fill(0);
    }
  });
});
