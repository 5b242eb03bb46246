/**
 * System, across hosts (root, as CI): the default topology (5 hubs, 5 clients, k = 3) with every
 * node in its own network namespace at its own address, started by the real `dske-cli` run on
 * each "host" with one topology YAML naming the places (netns/netns-topology.ts), TLS on (hubs
 * and clients serve HTTPS with certificates from `dske-cli certs`, named in their SANs).
 * Cases of issue 13: keys for every SAE pair; a client on a subset of hubs; mTLS by name; an
 * encryptor on its own host calling its KME by name; n − k hubs partitioned (keys flow), n − k + 1
 * (503 naming them), healed (the first call succeeds); a client host rebooted (kill -9, state
 * kept) rejoins; 10–40 ms one-way delay with jitter on client → hub links (delay relays) and 1 %
 * loss (nft): keys still flow. Partitions and loss are nft rules inside the namespaces.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import tls from "node:tls";
import { certLayout } from "../../src/certs";
import { killNamespaceProcesses } from "../netns/netns-lab";
import { eventually } from "./harness";
import {
  CLIENT_PORT,
  CLIENTS,
  ENCRYPTOR_HOST,
  HUB_PORT,
  HUBS,
  nameOf,
  NetnsTopology,
  SAES,
  SUBSET_CLIENT,
  SUBSET_HUBS,
  type EtsiKey,
} from "../netns/netns-topology";

jest.setTimeout(120_000);

let t: NetnsTopology | undefined;
const startOutput = new Map<string, string>();

function topo(): NetnsTopology {
  if (t === undefined) throw new Error("the netns topology did not start (see beforeAll)");
  return t;
}

beforeAll(async () => {
  t = await NetnsTopology.create();
  for (const [node, out] of await t.startAll()) startOutput.set(node, out);
}, 180_000);

afterAll(async () => {
  await t?.destroy();
}, 120_000);

/** The TLS server certificate a node presents at ADDR:PORT, verified against the topology CA for `servername`. */
function presented(addr: string, port: number, servername: string): Promise<{ authorized: boolean; error?: string; san: string }> {
  const ca = readFileSync(certLayout(topo().stateDir).caCert);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: addr, port, servername, ca, rejectUnauthorized: false }, () => {
      const cert = s.getPeerX509Certificate();
      let error: string | undefined = s.authorized ? undefined : String(s.authorizationError);
      if (error === undefined && cert?.checkHost(servername) === undefined) error = `the certificate does not name ${servername}`;
      resolve({ authorized: s.authorized && error === undefined, error, san: cert?.subjectAltName ?? "" });
      s.end();
    });
    s.on("error", reject);
  });
}

describe("the default topology over network namespaces", () => {
  it("starts each node on its own host only, listening on that host's address", async () => {
    const tt = topo();
    for (const h of HUBS) {
      const out = startOutput.get(h) ?? "";
      expect(out).toContain(`hub ${h}`);
      for (const other of [...HUBS, ...CLIENTS].filter((n) => n !== h)) expect(out).not.toMatch(new RegExp(`Starting \\w+ ${other}\\b`));
    }
    for (const [node, port] of [...HUBS.map((h) => [h, HUB_PORT] as const), ...CLIENTS.map((c) => [c, CLIENT_PORT] as const)]) {
      const listening = await tt.lab.must(node, "ss", ["-Htln"]);
      expect(listening).toContain(`${tt.lab.addrOf(node)}:${port}`);
    }
  });

  it("establishes a key pair for every pair of SAEs (each on its own client host)", async () => {
    const tt = topo();
    const saes = Object.keys(SAES);
    await Promise.all(
      saes.map(async (master) => {
        for (const slave of saes.filter((s) => s !== master)) {
          const { enc, dec } = await tt.keyPair(master, slave);
          expect(dec).toEqual(enc);
        }
      }),
    );
  });

  it("a client on a subset of hubs registers with those hubs only, and exchanges keys", async () => {
    const tt = topo();
    const own = JSON.parse(await tt.mustCli(SUBSET_CLIENT, "--client", SUBSET_CLIENT, "status", "--json")) as {
      peer_hubs: { hub_name: string }[];
    };
    expect(own.peer_hubs.map((p) => p.hub_name).sort()).toEqual([...SUBSET_HUBS].sort());
    // Remote status from another host, with the operator credential: hank never saw connie.
    const hank = JSON.parse(await tt.mustCli("carol", "--hub", "hank", "status", "--json")) as { peer_clients: { client_name: string }[] };
    expect(hank.peer_clients.map((p) => p.client_name)).not.toContain(SUBSET_CLIENT);
    expect(hank.peer_clients.map((p) => p.client_name)).toContain("carol");
    const { enc, dec } = await tt.keyPair("sofia", "sam", 2);
    expect(dec).toEqual(enc);
  });

  it("serves mutual TLS across hosts with certificates naming the hosts in their SANs", async () => {
    const tt = topo();
    for (const h of HUBS) {
      const ok = await presented(tt.lab.addrOf(h), HUB_PORT, nameOf(h));
      expect({ hub: h, authorized: ok.authorized, error: ok.error }).toEqual({ hub: h, authorized: true, error: undefined });
      expect(ok.san).toContain(`DNS:${nameOf(h)}`);
    }
    // A certificate is good for its own name only.
    expect((await presented(tt.lab.addrOf("hank"), HUB_PORT, nameOf("helen"))).authorized).toBe(false);
    const carol = await presented(tt.lab.addrOf("carol"), CLIENT_PORT, nameOf("carol"));
    expect(carol.authorized).toBe(true);
    // The ETSI API wants the SAE's certificate: a caller without one gets no keys.
    const bare = await tt.http
      .post(`${tt.clientUrl("carol")}/etsi/api/v1/keys/sunny/enc_keys`, {}, { httpsAgent: tt.agent("", "anonymous"), timeout: 10_000 })
      .then(
        (r) => r.status,
        (err: unknown) => String(err),
      );
    expect(bare).not.toBe(200);
    // Clients reach their hubs over HTTPS by name.
    const status = JSON.parse(await tt.mustCli("celia", "--client", "celia", "status", "--json")) as { peer_hubs: { url?: string }[] };
    for (const p of status.peer_hubs) expect(p.url ?? "").toMatch(/^https:\/\/h\w+\.dske\.test:8100\//);
    // The certificate files hold the names as well (what `dske-cli certs` issued).
    const clientCert = new X509Certificate(readFileSync(certLayout(tt.stateDir).client("carol").cert));
    expect(clientCert.subjectAltName).toContain(`DNS:${nameOf("carol")}`);
  });

  it("an encryptor on its own host calls its KME's ETSI API by host name", async () => {
    const tt = topo();
    const layout = certLayout(tt.stateDir);
    const sam = layout.sae("sam");
    const url = `https://${nameOf("carol")}:${CLIENT_PORT}/client/carol/etsi/api/v1/keys/sunny/enc_keys`;
    const script = `
      const [url, ca, cert, key] = process.argv.slice(1);
      const fs = require("node:fs");
      const req = require("node:https").request(url, { method: "POST", ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key),
        headers: { "content-type": "application/json" } }, (res) => {
        let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => { console.log(JSON.stringify({ status: res.statusCode, body })); });
      });
      req.on("error", (e) => { console.error(e.message); process.exit(1); });
      req.end(JSON.stringify({ number: 1 }));`;
    const r = await tt.lab.exec(ENCRYPTOR_HOST, process.execPath, ["-e", script, url, layout.caCert, sam.cert, sam.key]);
    expect(r.stderr).toBe("");
    const answer = JSON.parse(r.stdout) as { status: number; body: string };
    expect(answer.status).toBe(200);
    const [key] = (JSON.parse(answer.body) as { keys: EtsiKey[] }).keys;
    const dec = await tt.etsi("sunny", "sam", "dec_keys", { key_IDs: [{ key_ID: key.key_ID }] });
    expect(dec.status).toBe(200);
    expect((dec.data as { keys: EtsiKey[] }).keys).toEqual([key]);
    // The name is the encryptor host's own mapping: it knows no hub.
    expect((await tt.lab.exec(ENCRYPTOR_HOST, "getent", ["hosts", nameOf("hank")])).code).not.toBe(0);
  });
});

describe("partitions (nft drop rules in the namespaces)", () => {
  afterAll(async () => {
    await t?.heal();
  });

  it("n − k = 2 hubs partitioned: keys still flow", async () => {
    const tt = topo();
    await tt.partition(["hank", "hugo"]);
    for (const [m, s] of [
      ["sam", "sunny"],
      ["serena", "sofia"],
      ["susan", "serena"],
    ] as const) {
      const { enc, dec } = await tt.keyPair(m, s);
      expect(dec).toEqual(enc);
    }
  });

  it("n − k + 1 = 3 hubs partitioned: enc_keys answers 503 naming the unreachable hubs", async () => {
    const tt = topo();
    const cut = ["hank", "helen", "hugo"];
    await tt.partition(cut);
    const r = await tt.etsi("sam", "sunny", "enc_keys", { number: 1 });
    expect(r.status).toBe(503);
    const body = r.data as { message: string; details?: unknown };
    expect(typeof body.message).toBe("string");
    const text = JSON.stringify(body);
    for (const h of cut) expect(text).toContain(h);
  });

  it("partition healed: the first call after healing gets keys", async () => {
    const tt = topo();
    await tt.heal();
    const t0 = performance.now();
    // The requirement is keys within 1 s; the deadline here is generous (a loaded CI machine).
    const r = await tt.etsi("sam", "sunny", "enc_keys", { number: 1 }, 15_000);
    const ms = performance.now() - t0;
    expect({ status: r.status, body: r.status === 200 ? "" : JSON.stringify(r.data) }).toEqual({ status: 200, body: "" });
    const [key] = (r.data as { keys: EtsiKey[] }).keys;
    const dec = await tt.etsi("sunny", "sam", "dec_keys", { key_IDs: [{ key_ID: key.key_ID }] });
    expect((dec.data as { keys: EtsiKey[] }).keys).toEqual([key]);
    process.stdout.write(`netns: first enc_keys after healing answered in ${ms.toFixed(0)} ms\n`);
  });
});

describe("a client host rebooted", () => {
  it("its processes killed (-9), state kept: it rejoins with dske-cli start and exchanges keys again", async () => {
    const tt = topo();
    await killNamespaceProcesses(tt.lab.nsOf("carol"));
    await eventually("carol's port closed", async () => !(await tt.lab.must("carol", "ss", ["-Htln"])).includes(`:${CLIENT_PORT}`), 20_000);
    const down = await tt
      .etsi("sam", "sunny", "enc_keys", { number: 1 }, 10_000)
      .catch((err: unknown) => ({ status: 0, data: String(err) }));
    expect(down.status).toBe(0);
    await tt.startOn("carol");
    for (const [m, s] of [
      ["sam", "sunny"],
      ["serena", "sam"],
    ] as const) {
      const { enc, dec } = await tt.keyPair(m, s);
      expect(dec).toEqual(enc);
    }
  });
});

describe("impairments", () => {
  afterAll(async () => {
    const tt = t;
    if (tt === undefined) return;
    for (const r of tt.relays.values()) r.setDelay(0, 0);
    await tt.loss(0);
  });

  it("10–40 ms one-way delay with jitter on every client → hub link, and 1 % loss: keys still flow", async () => {
    const tt = topo();
    // delay ± jitter within 10–40 ms, a different delay per hub.
    const delays = [13, 20, 27, 34, 37];
    HUBS.forEach((h, i) => tt.relay(h).setDelay(delays[i] ?? 20, 3));
    await tt.loss(1);
    const before = new Map(HUBS.map((h) => [h, tt.relay(h).snapshot().bytes]));
    for (const [m, s] of [
      ["sam", "sunny"],
      ["sofia", "serena"],
      ["susan", "sam"],
    ] as const) {
      const t0 = performance.now();
      const { enc, dec } = await tt.keyPair(m, s, 2);
      expect(dec).toEqual(enc);
      process.stdout.write(
        `netns: impaired key pair ${m} -> ${s} (enc_keys + dec_keys, 2 keys) in ${(performance.now() - t0).toFixed(0)} ms\n`,
      );
    }
    // The keys crossed the delayed links: at least k = 3 relays carried traffic.
    const carried = HUBS.filter((h) => tt.relay(h).snapshot().bytes > (before.get(h) ?? 0));
    expect(carried.length).toBeGreaterThanOrEqual(3);
  });
});
