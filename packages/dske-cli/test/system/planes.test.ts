/**
 * System: every plane around the ITS core is closed (issue 12), on real node processes started by
 * `dske-cli start` — plain HTTP and `start --tls` (clients serve mutual TLS; hubs stay plain HTTP
 * on loopback). Each topology runs once per describe on its own ports (19210-19219 plain,
 * 19230-19239 TLS) with a small `max_pool_bytes` (256 KiB) so that the caps can be hit.
 *
 * - The theft sequence of the issue fails: an outsider's GET psrd for curtis's pools → 401 at
 *   hank, helen and hilary; forged signed fetches as curtis (random and real block UUIDs, random
 *   tags) → 401; the hubs' accounting for curtis is unchanged; the key curtis was about to fetch
 *   is curtis's (dec_keys gives the master's key) and keys keep flowing.
 * - Rogue registration (new name; curtis unsigned, with a guessed secret, with a forged signature;
 *   the operator issuing for a client outside the acceptance policy) → 401/403, no new client.
 * - Unregistration of another client (carol) → 401 (415 without JSON); carol stays registered
 *   everywhere and keeps getting keys.
 * - A cross-site stop of a hub and of a client, with and without the credential → 403/415/401; both
 *   keep running.
 * - Blocks beyond the caps: `dske-cli psrd issue hank curtis --client-owned-bytes <too many>` (and
 *   hub-owned) exits non-zero naming the cap; nothing issued, nothing installed.
 * - Status and metrics without the operator credential → 401 at every hub and plain client (a
 *   TLS client: no certificate, no TLS session; an SAE's certificate → 403).
 *
 * Accounting is compared after it settled (see accounting.ts). The key stock is off so that no
 * background batch runs between "before" and "after".
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { formatSignatureHeader } from "@dske/auth";
import { nodeBaseUrl, type NodeSpec } from "../../src/topology";
import { clientAccounting, clientStatus, hubAccounting, hubStatus, settled, settledHubAccounting } from "./accounting";
import { runningTopology, SYSTEM_TIMEOUT, type SystemTopology } from "./harness";
import { certificateAgent, decKeys, encKeys, isTls, saeKeyPair } from "./sae-http";
import { defined } from "../defined";

jest.setTimeout(SYSTEM_TIMEOUT);

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const CLIENTS = ["carol", "celia", "cindy", "connie", "curtis"];
const THIEF_TARGETS = ["hank", "helen", "hilary"];
const CAP = 262_144;
const EVIL = "http://evil.example";
const JSON_CT = { "Content-Type": "application/json" };

/** A DSKE-Signature header with a random tag over `allocation` (an attacker cannot compute the real one). */
const forgedSignature = (allocation: string): string => formatSignatureHeader({ allocation, tag: randomBytes(16) });

/** Block UUIDs (and sizes) of curtis's client-owned pool with `hub`: what a network observer of the plain in-band traffic sees in DSKE-Signature headers. */
function observedBlocks(t: SystemTopology, client: string, hub: string): { uuid: string; size: number }[] {
  const meta = path.join(t.stateDir, "nodes", client, "psrd", "pools", `hub-${hub}-client-owned`, "meta.json");
  return (JSON.parse(readFileSync(meta, "utf8")) as { blocks: { uuid: string; size: number }[] }).blocks.map((b) => ({
    uuid: b.uuid,
    size: b.size,
  }));
}

describe.each([
  ["plain HTTP", 19210, [] as string[]],
  ["mutual TLS (start --tls)", 19230, ["--tls"]],
])("planes closed: %s", (_mode, basePort, startArgs) => {
  const t = runningTopology(basePort, { max_pool_bytes: CAP, key_stock_ahead_ms: 0 }, { startArgs });
  // Under TLS the hubs serve HTTPS too (certificates from the topology CA): an outsider reaches
  // them over verified TLS, without a client certificate.
  const hubUrl = (h: string) => nodeBaseUrl(t.node(h), isTls(t));
  beforeAll(() => {
    if (isTls(t)) t.http.defaults.httpsAgent = new https.Agent({ ca: readFileSync(path.join(t.stateDir, "tls", "ca.crt")) });
  });
  const expectKeysFlow = async (master: string, slave: string) => {
    const { enc, dec } = await saeKeyPair(t, master, slave);
    expect(dec).toEqual(enc);
  };
  /** Management request options for a client node: the operator's credential, or (`as`) another identity. */
  const clientTarget = (node: NodeSpec, as: "operator" | "sam" | "nobody") => {
    const tls = isTls(t);
    const base = nodeBaseUrl(node, tls);
    if (!tls) return { base, headers: as === "operator" ? t.operatorHeaders() : {}, httpsAgent: undefined };
    return {
      base,
      headers: {},
      httpsAgent: as === "nobody" ? undefined : as === "operator" ? certificateAgent(t, "", "operator") : certificateAgent(t, "sam"),
    };
  };

  test("the topology is up in the expected mode; keys flow sam → sunny", async () => {
    expect(isTls(t)).toBe(startArgs.includes("--tls"));
    for (const c of CLIENTS) {
      const s = await clientStatus(t, c);
      expect([c, s.peer_hubs.map((p) => p.registered)]).toEqual([c, HUBS.map(() => true)]);
    }
    await expectKeysFlow("sam", "sunny");
  });

  test("status and metrics without the operator credential: 401 at every hub and plain client (TLS client: no session without a certificate, 403 for an SAE's); nothing revealed", async () => {
    for (const h of HUBS) {
      const base = hubUrl(h);
      const r = await t.http.get(`${base}/mgmt/v1/status`);
      expect([h, r.status]).toEqual([h, 401]);
      expect((r.data as { message: string }).message).toMatch(/operator credential/);
      expect(JSON.stringify(r.data)).not.toMatch(/peer_clients|curtis|sunny|key_id/);
      expect([
        h,
        (await t.http.get(`${base}/mgmt/v1/status`, { headers: { Authorization: `Bearer ${randomBytes(32).toString("hex")}` } })).status,
      ]).toEqual([h, 403]);
      expect([h, (await t.http.get(`${base}/metrics`, { responseType: "text" })).status]).toEqual([h, 401]);
    }
    for (const c of CLIENTS) {
      const node = t.node(c);
      if (!isTls(t)) {
        const r = await t.http.get(`${nodeBaseUrl(node)}/mgmt/v1/status`);
        expect([c, r.status]).toEqual([c, 401]);
        expect(JSON.stringify(r.data)).not.toMatch(/peer_hubs|sunny|key_id/);
        expect([c, (await t.http.get(`${nodeBaseUrl(node)}/metrics`, { responseType: "text" })).status]).toEqual([c, 401]);
        continue;
      }
      // Mutual TLS: without a certificate there is no TLS session, hence no HTTP answer at all.
      const nobody = clientTarget(node, "nobody");
      await expect(
        t.http.get(`${nobody.base}/mgmt/v1/status`, {
          httpsAgent: new https.Agent({ ca: readFileSync(path.join(t.stateDir, "tls", "ca.crt")) }),
        }),
      ).rejects.toThrow();
      // An SAE's certificate is not the operator's.
      const sae = clientTarget(node, "sam");
      const r = await t.http.get(`${sae.base}/mgmt/v1/status`, { httpsAgent: sae.httpsAgent });
      expect([c, r.status]).toEqual([c, 403]);
      expect((r.data as { message: string }).message).toMatch(/CN=sam may not use the management API/);
      expect(JSON.stringify(r.data)).not.toMatch(/peer_hubs|sunny|key_id/);
      expect([c, (await t.http.get(`${sae.base}/metrics`, { httpsAgent: sae.httpsAgent, responseType: "text" })).status]).toEqual([c, 403]);
    }
  });

  test("the theft sequence fails: GET psrd as an outsider → 401, forged fetches as curtis → 401, accounting unchanged, curtis keeps its key", async () => {
    // A key sam → sunny whose shares wait at the hubs for curtis: what the thief was after.
    const [target] = await encKeys(t, "sam", "sunny");
    const before = await settledHubAccounting(t, HUBS, "curtis");
    const curtisBefore = await settled(() => clientAccounting(t, "curtis"));
    const statuses: number[] = [];

    // 1. Fresh blocks of curtis's pools, asked for as an outsider (no credential, a guessed one, the wrong client's pool owner).
    for (const h of THIEF_TARGETS) {
      for (const owner of ["client", "hub"]) {
        const url = `${hubUrl(h)}/dske/oob/v1/psrd?client_name=curtis&pool_owner=${owner}&size=1000`;
        for (const headers of [{}, { Authorization: `Bearer ${randomBytes(32).toString("hex")}` }]) {
          const r = await t.http.get(url, { headers });
          statuses.push(r.status);
          expect([h, owner, r.status]).toEqual([h, owner, 401]);
          expect((r.data as { message: string }).message).toMatch(/delivered only to that client/);
          expect(JSON.stringify(r.data)).not.toMatch(/block_uuid|"data"/);
        }
      }
    }

    // 2. Signed fetches as curtis, forged: allocations naming random UUIDs, and real block UUIDs of
    //    curtis's pools (visible in plain in-band traffic) at unused offsets, each with a random tag.
    const fetchBody = JSON.stringify({
      client_name: "curtis",
      keys: [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: target.key_ID }],
    });
    for (const h of THIEF_TARGETS) {
      const blocks = observedBlocks(t, "curtis", h);
      expect(blocks.length).toBeGreaterThan(0);
      const forged = Array.from({ length: 50 }, (_, i) => {
        const b = blocks[i % blocks.length];
        return i % 2 === 0 ? `${randomUUID()}:0:16` : `${b.uuid}:${b.size - 16 * (1 + (i % 7))}:16`;
      });
      for (const [i, allocation] of forged.entries()) {
        const r =
          i % 3 === 0
            ? await t.http.get(`${hubUrl(h)}/dske/api/v1/key-share`, {
                params: { client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: target.key_ID },
                headers: { "DSKE-Signature": forgedSignature(allocation) },
              })
            : await t.http.post(`${hubUrl(h)}/dske/api/v1/key-shares/fetch`, fetchBody, {
                headers: { ...JSON_CT, "DSKE-Signature": forgedSignature(allocation) },
              });
        statuses.push(r.status);
        expect([h, allocation, r.status]).toEqual([h, allocation, 401]);
        expect(JSON.stringify(r.data)).not.toMatch(/encrypted_share_value/);
      }
    }
    expect(statuses.length).toBe(THIEF_TARGETS.length * (4 + 50));

    // Nothing moved: no block created or staged, no pad used, no share released.
    expect(await settledHubAccounting(t, HUBS, "curtis")).toEqual(before);
    expect(await settled(() => clientAccounting(t, "curtis"))).toEqual(curtisBefore);

    // curtis keeps working: it gets exactly sam's key, and further keys flow both ways.
    const d = await decKeys(t, "sunny", "sam", [target.key_ID]);
    expect(d.status).toBe(200);
    expect((d.data as { keys: unknown }).keys).toEqual([target]);
    await expectKeysFlow("sam", "sunny");
    await expectKeysFlow("susan", "sam");
  });

  test("rogue registration (a new name; curtis unsigned, with a guessed secret or a forged signature) → 401/403, no new client, curtis unchanged", async () => {
    const before = await settledHubAccounting(t, HUBS, "curtis");
    for (const h of HUBS) {
      const url = `${hubUrl(h)}/dske/oob/v1/registration`;
      const attempts: { what: string; body: Record<string, unknown>; headers: Record<string, string> }[] = [
        { what: "mallory unsigned", body: { client_name: "mallory", encryptor_names: ["mel"], auth_scheme: "gf128" }, headers: {} },
        {
          what: "mallory, guessed secret",
          body: { client_name: "mallory", auth_scheme: "gf128" },
          headers: { Authorization: `Bearer ${randomBytes(32).toString("hex")}` },
        },
        {
          what: "mallory, forged signature",
          body: { client_name: "mallory", auth_scheme: "gf128" },
          headers: { "DSKE-Signature": forgedSignature(`${randomUUID()}:0:16`) },
        },
        {
          what: "curtis unsigned",
          body: { client_name: "curtis", encryptor_names: ["sunny", "susan", "mel"], auth_scheme: "gf128" },
          headers: {},
        },
        { what: "curtis → hmac-sha256 unsigned", body: { client_name: "curtis", auth_scheme: "hmac-sha256" }, headers: {} },
        {
          what: "curtis, guessed enrollment secret",
          body: { client_name: "curtis", auth_scheme: "gf128" },
          headers: { Authorization: `Bearer ${randomBytes(32).toString("hex")}` },
        },
        {
          what: "curtis, forged signature",
          body: { client_name: "curtis", auth_scheme: "gf128" },
          headers: { "DSKE-Signature": forgedSignature(`${observedBlocks(t, "curtis", h)[0].uuid}:16:16`) },
        },
      ];
      for (const a of attempts) {
        const r = await t.http.put(url, a.body, { headers: { ...JSON_CT, ...a.headers } });
        expect(`${h} ${a.what}: ${r.status}`).toBe(`${h} ${a.what}: 401`);
        expect(typeof (r.data as { message?: unknown }).message).toBe("string");
      }
      // Not even the operator provisions a client outside the hub's acceptance policy (the topology's clients).
      const op = await t.http.post(
        `${hubUrl(h)}/mgmt/v1/psrd-bundles`,
        { client_name: "mallory", client_owned_bytes: 1024, hub_owned_bytes: 1024 },
        { headers: { ...JSON_CT, ...t.operatorHeaders() } },
      );
      expect([h, op.status]).toEqual([h, 403]);
      expect((op.data as { message: string }).message).toMatch(/mallory is not in the acceptance policy/);
      // ... nor without the operator credential.
      expect(
        (
          await t.http.post(
            `${hubUrl(h)}/mgmt/v1/psrd-bundles`,
            { client_name: "curtis", client_owned_bytes: 1024, hub_owned_bytes: 1024 },
            { headers: JSON_CT },
          )
        ).status,
      ).toBe(401);
    }
    const cli = await t.cli("psrd", "issue", "hank", "mallory");
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/no client named mallory in the configuration/);

    expect(await settledHubAccounting(t, HUBS, "curtis")).toEqual(before);
    for (const h of HUBS) {
      const s = await hubStatus(t, h);
      expect([h, s.peer_clients.map((c) => c.client_name).sort()]).toEqual([h, CLIENTS]);
      const curtis = defined(
        s.peer_clients.find((c) => c.client_name === "curtis"),
        `curtis at ${h}`,
      );
      expect([curtis.auth_scheme, [...curtis.encryptor_names].sort()]).toEqual(["gf128", ["sunny", "susan"]]);
      expect(readdirSync(path.join(t.stateDir, "nodes", h, "outbox"))).toEqual([]);
    }
    await expectKeysFlow("sam", "sunny");
  });

  test("unregistration of another client (DELETE registration?client_name=carol, unsigned / guessed / forged) → 401; carol stays registered and gets keys", async () => {
    const before = await settledHubAccounting(t, HUBS, "carol");
    for (const h of HUBS) {
      const oob = `${hubUrl(h)}/dske/oob/v1/registration?client_name=carol`;
      const attempts: [string, Record<string, string>][] = [
        ["unsigned", JSON_CT],
        ["guessed secret", { ...JSON_CT, Authorization: `Bearer ${randomBytes(32).toString("hex")}` }],
        ["forged signature (random block)", { ...JSON_CT, "DSKE-Signature": forgedSignature(`${randomUUID()}:0:16`) }],
        [
          "forged signature (carol's block)",
          { ...JSON_CT, "DSKE-Signature": forgedSignature(`${observedBlocks(t, "carol", h)[0].uuid}:32:16`) },
        ],
      ];
      for (const [what, headers] of attempts) {
        const r = await t.http.delete(oob, { headers });
        expect(`${h} ${what}: ${r.status}`).toBe(`${h} ${what}: 401`);
      }
      // A DELETE with a non-JSON body (no web page can send DELETE cross-site anyway): 415. A
      // bodiless DELETE needs no content type, but a credential: 401.
      expect((await t.http.delete(oob, { headers: { "Content-Type": "text/plain" }, data: "x" })).status).toBe(415);
      expect((await t.http.delete(oob)).status).toBe(401);
      // The operator's route without the operator credential.
      const mgmt = `${hubUrl(h)}/mgmt/v1/registration?client_name=carol`;
      expect((await t.http.delete(mgmt, { headers: JSON_CT })).status).toBe(401);
      expect(
        (await t.http.delete(mgmt, { headers: { ...JSON_CT, Authorization: `Bearer ${randomBytes(32).toString("hex")}` } })).status,
      ).toBe(403);
    }
    expect(await settledHubAccounting(t, HUBS, "carol")).toEqual(before);
    for (const h of HUBS) expect([h, (await hubStatus(t, h)).peer_clients.some((c) => c.client_name === "carol")]).toEqual([h, true]);
    const carol = await clientStatus(t, "carol");
    expect(carol.peer_hubs.map((p) => [p.hub_name, p.registered])).toEqual(HUBS.map((h) => [h, true]));
    await expectKeysFlow("sam", "sunny"); // carol is the master's KME
    await expectKeysFlow("sofia", "sam"); // ... and the slave's
  });

  test("a cross-site stop (foreign Origin, text/plain), with and without the credential → 403/415/401; hank and curtis keep running", async () => {
    const hankStop = `${hubUrl("hank")}/mgmt/v1/stop`;
    const token = t.operatorHeaders();
    const hubAttempts: [string, unknown, Record<string, string>, number][] = [
      ["page: text/plain + Origin", "{}", { "Content-Type": "text/plain", Origin: EVIL }, 403],
      ["page with the token", "{}", { "Content-Type": "text/plain", Origin: EVIL, ...token }, 403],
      ["JSON + Origin with the token", {}, { ...JSON_CT, Origin: EVIL, ...token }, 403],
      ["text/plain with the token", "{}", { "Content-Type": "text/plain", ...token }, 415],
      ["form with the token", "", { "Content-Type": "application/x-www-form-urlencoded", ...token }, 415],
      ["JSON without the token", {}, JSON_CT, 401],
    ];
    for (const [what, body, headers, status] of hubAttempts) {
      const r = await t.http.post(hankStop, body, { headers });
      expect(`hank ${what}: ${r.status}`).toBe(`hank ${what}: ${status}`);
    }
    const curtis = t.node("curtis");
    const op = clientTarget(curtis, "operator");
    const other = clientTarget(curtis, "sam");
    const clientAttempts: [string, typeof op, unknown, Record<string, string>, number][] = [
      ["page: text/plain + Origin", other, "{}", { "Content-Type": "text/plain", Origin: EVIL }, 403],
      ["operator, text/plain + Origin", op, "{}", { "Content-Type": "text/plain", Origin: EVIL, ...op.headers }, 403],
      ["operator, JSON + Origin", op, {}, { ...JSON_CT, Origin: EVIL, ...op.headers }, 403],
      ["operator, text/plain", op, "{}", { "Content-Type": "text/plain", ...op.headers }, 415],
      ["JSON without the operator credential", other, {}, JSON_CT, isTls(t) ? 403 : 401],
    ];
    for (const [what, target, body, headers, status] of clientAttempts) {
      const r = await t.http.post(`${target.base}/mgmt/v1/stop`, body, { headers, httpsAgent: target.httpsAgent });
      expect(`curtis ${what}: ${r.status}`).toBe(`curtis ${what}: ${status}`);
    }
    const st = await t.cli("status", "--verbose");
    expect(st.code).toBe(0);
    for (const n of t.topology.nodes)
      expect(st.out).toContain(`${n.kind === "hub" ? "Hub" : "Client"} ${n.name} on port ${n.port}: running`);
    expect((await hubStatus(t, "hank")).name).toBe("hank");
    await expectKeysFlow("sam", "sunny");
  });

  test("blocks beyond the caps: dske-cli psrd issue exits non-zero naming the cap; nothing issued or installed", async () => {
    const read = async () => ({ hubs: await hubAccounting(t, ["hank"], "curtis"), curtis: await clientAccounting(t, "curtis") });
    const noAcksPending = (v: { hubs: Record<string, unknown> }) =>
      Object.values(v.hubs).every((h) =>
        (h as { shares: { pending_ack?: string[] }[] }).shares.every((s) => (s.pending_ack ?? []).length === 0),
      );
    const before = await settled(read, { ready: noAcksPending });
    const available = before.curtis.hank.pools.client_owned.available;
    expect(available).toBeLessThan(CAP);
    // Within the per-request bound, but the pool would then hold more than max_pool_bytes.
    const over = String(CAP - Math.floor(available / 2));
    const clientSide = await t.cli("psrd", "issue", "hank", "curtis", "--client-owned-bytes", over, "--hub-owned-bytes", "1024");
    expect(clientSide.code).not.toBe(0);
    expect(clientSide.stderr).toMatch(
      /hub hank did not issue a bundle: the client-owned pool of curtis would hold \d+ bytes, above this hub's cap of 262144 \(max_pool_bytes\)/,
    );
    const hubSide = await t.cli("psrd", "issue", "hank", "curtis", "--client-owned-bytes", "1024", "--hub-owned-bytes", over);
    expect(hubSide.code).not.toBe(0);
    expect(hubSide.stderr).toMatch(/the hub-owned pool of curtis would hold \d+ bytes, above this hub's cap of 262144 \(max_pool_bytes\)/);
    // More than the cap in one request.
    const huge = await t.cli("psrd", "issue", "hank", "curtis", "--client-owned-bytes", String(4 * CAP));
    expect(huge.code).not.toBe(0);
    expect(huge.stderr).toMatch(/client_owned_bytes must be an integer from 0 to 262144/);
    // The same over HTTP: a 4xx with the cap in its details.
    const http = await t.http.post(
      `${hubUrl("hank")}/mgmt/v1/psrd-bundles`,
      { client_name: "curtis", client_owned_bytes: Number(over), hub_owned_bytes: 0 },
      { headers: { ...JSON_CT, ...t.operatorHeaders() } },
    );
    expect(http.status).toBe(409);
    expect(http.data).toMatchObject({ details: [{ field: "client_owned_bytes", max_pool_bytes: CAP }] });

    expect(await settled(read, { ready: noAcksPending })).toEqual(before);
    expect(readdirSync(path.join(t.stateDir, "nodes", "hank", "outbox"))).toEqual([]);
    expect(readdirSync(path.join(t.stateDir, "nodes", "curtis", "inbox"))).toEqual([]);
    // Within the cap it works (and then the bundle is installed, so the chain stays in step).
    const file = path.join(t.dir, `within-cap-${basePort}.psrd`);
    const ok = await t.cli("psrd", "issue", "hank", "curtis", "--client-owned-bytes", "4096", "--hub-owned-bytes", "4096", "--out", file);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const inst = await t.cli("psrd", "install", "curtis", file);
    expect(inst.stderr).toBe("");
    expect(inst.out.join("\n")).toMatch(/Installed PSRD bundle \d+ of hub hank at client curtis \(2 blocks, 4096 \+ 4096 bytes\)/);
    await expectKeysFlow("sam", "sunny");
  });
});
