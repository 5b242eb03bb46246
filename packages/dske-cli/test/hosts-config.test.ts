/**
 * Multi-host topologies: the YAML attributes host/listen/port, hubs subsets and per-client
 * min_nr_shares, insecure and the TLS default (config errors name file, YAML path, line and fix);
 * node URLs and command lines; which nodes are on this machine; server certificate SANs.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isLoopbackHost, isOnThisMachine, localAddresses, urlHost } from "../src/addresses";
import { certSansFor } from "../src/cert-sans";
import { certLayout, ensureCertificates, serverSans } from "../src/certs";
import { ConfigError, parseConfig } from "../src/config";
import { nodeArgs } from "../src/node-command";
import { isLocal } from "../src/placement";
import { StateDir } from "../src/state-dir";
import { nodeBaseUrl, Topology } from "../src/topology";

function rejected(yaml: string): ConfigError {
  try {
    parseConfig(yaml, "hosts.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain("hosts.yaml");
    return err as ConfigError;
  }
  throw new Error("expected the configuration to be rejected");
}

const FIVE_HUBS = `hubs:
  - name: hank
  - name: helen
  - name: hilary
  - name: holly
  - name: hugo
`;

describe("config: host, listen, port", () => {
  it("keeps the loopback defaults: 127.0.0.1, base_port + index, tls off", () => {
    const cfg = parseConfig(`${FIVE_HUBS}clients:\n  - name: carol\n`, "hosts.yaml");
    expect(cfg.tls).toBe(false);
    expect(cfg.insecure).toBe(false);
    const t = new Topology(cfg);
    expect(t.hubs.map((h) => [h.host, h.listen, h.port])).toEqual([
      ["127.0.0.1", "127.0.0.1", 8100],
      ["127.0.0.1", "127.0.0.1", 8101],
      ["127.0.0.1", "127.0.0.1", 8102],
      ["127.0.0.1", "127.0.0.1", 8103],
      ["127.0.0.1", "127.0.0.1", 8104],
    ]);
    expect(t.clients[0].port).toBe(8105);
  });

  it("turns TLS on by default once a node is off loopback, and builds https URLs (IPv6 in brackets)", () => {
    const cfg = parseConfig(
      `hubs:
  - name: hank
    host: 10.77.0.11
  - name: helen
    host: fd00::12
    port: 9000
clients:
  - name: carol
    host: carol.example
    min_nr_shares: 2
    encryptors: [{name: sam}]
min_nr_shares: 2
`,
      "hosts.yaml",
    );
    expect(cfg.tls).toBe(true);
    const t = new Topology(cfg);
    expect(t.hubs[0].listen).toBe("10.77.0.11");
    expect(t.clients[0].listen).toBe("0.0.0.0");
    expect(t.hubUrlsOf(t.clients[0], true)).toEqual(["https://10.77.0.11:8100/hub/hank", "https://[fd00::12]:9000/hub/helen"]);
    expect(nodeBaseUrl(t.clients[0], true)).toBe("https://carol.example:8102/client/carol");
  });

  it("refuses plain HTTP off loopback without insecure: true, naming the fix", () => {
    const e = rejected(`tls: false\n${FIVE_HUBS.replace("- name: hank", "- name: hank\n    host: 10.0.0.1")}clients:\n  - name: carol\n`);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].path).toBe("tls");
    expect(e.issues[0].line).toBe(1);
    expect(e.issues[0].message).toContain("hub hank (10.0.0.1, listen 10.0.0.1)");
    expect(e.issues[0].message).toContain("insecure: true");
    // Also a loopback host bound to every interface is off loopback.
    const wildcard = rejected(
      `tls: false\n${FIVE_HUBS.replace("- name: hank", "- name: hank\n    listen: 0.0.0.0")}clients:\n  - name: carol\n`,
    );
    expect(wildcard.issues[0].message).toContain("listen 0.0.0.0");
    const ok = parseConfig(
      `tls: false\ninsecure: true\n${FIVE_HUBS.replace("- name: hank", "- name: hank\n    host: 10.0.0.1")}clients:\n  - name: carol\n`,
      "hosts.yaml",
    );
    expect(ok.tls).toBe(false);
    expect(ok.insecure).toBe(true);
  });

  it("refuses two nodes on one port of the same host (127.0.0.1 and localhost are one host)", () => {
    const e = rejected(
      `${FIVE_HUBS.replace("- name: helen", "- name: helen\n    host: localhost\n    port: 8100")}clients:\n  - name: carol\n`,
    );
    expect(e.issues.map((i) => i.path)).toEqual(["hubs[1].port"]);
    expect(e.issues[0].message).toContain("hub helen and hub hank both use port 8100");
    expect(e.issues[0].line).toBe(5);
    // The same port on two hosts is fine.
    parseConfig(
      `hubs:\n  - name: a\n    host: 10.0.0.1\n    port: 8100\n  - name: b\n    host: 10.0.0.2\n    port: 8100\nclients:\n  - name: c\n    host: 10.0.0.3\n    port: 8100\nmin_nr_shares: 2\n`,
      "hosts.yaml",
    );
  });

  it("refuses a bad host, listen or port with the expected form", () => {
    const e = rejected(
      `hubs:\n  - name: a\n    host: "not a host"\n    listen: somewhere\n    port: 70000\nclients:\n  - name: c\nmin_nr_shares: 1\n`,
    );
    expect(e.issues.map((i) => i.path).sort()).toEqual(["hubs[0].host", "hubs[0].listen", "hubs[0].port"]);
    expect(e.message).toContain("expected an IP address or a DNS name");
    expect(e.message).toContain("expected an IP address to bind");
    expect(e.message).toContain("expected a TCP port");
  });
});

describe("config: clients on a subset of hubs", () => {
  const subsets = (carolHubs: string, celiaHubs: string, extra = "") =>
    `${FIVE_HUBS}clients:
  - name: carol
    hubs: ${carolHubs}
    encryptors: [{name: sam}]
  - name: celia
    hubs: ${celiaHubs}
    ${extra}
    encryptors: [{name: serena}]
  - name: cindy
    hubs: [hugo]
    min_nr_shares: 1
`;

  it("accepts clients that share enough hubs; each gets only its hubs, positions and k", () => {
    const cfg = parseConfig(subsets("[hank, helen, hilary, hugo]", "[hugo, hilary, helen]", "min_nr_shares: 2"), "hosts.yaml");
    const t = new Topology(cfg);
    const [carol, celia, cindy] = t.clients;
    expect(celia.hubs).toEqual(["helen", "hilary", "hugo"]); // topology order
    expect(celia.minNrShares).toBe(2);
    const state = new StateDir("/st");
    const args = nodeArgs(celia, t, state);
    const opt = (o: string) => args[args.indexOf(o) + 1];
    expect(args.slice(args.indexOf("--hubs") + 1, args.indexOf("--hubs") + 4)).toEqual([
      "http://127.0.0.1:8101/hub/helen",
      "http://127.0.0.1:8102/hub/hilary",
      "http://127.0.0.1:8104/hub/hugo",
    ]);
    expect(opt("--hub-positions")).toBe("1,2,4");
    expect(opt("--min-nr-shares")).toBe("2");
    // carol (k 3) sends celia keys: celia gathers 3 shares.
    expect(opt("--gather-min-nr-shares")).toBe("3");
    expect(nodeArgs(carol, t, state)).not.toContain("--gather-min-nr-shares");
    // cindy hosts no encryptor but receives none either; the kme directory still lists every SAE.
    expect(nodeArgs(cindy, t, state)).toContain("--hub-positions");
    expect(t.kmeDirectory()).toEqual({ sam: "carol", serena: "celia" });
  });

  it("refuses two clients exchanging keys that share too few hubs, naming both", () => {
    const e = rejected(subsets("[hank, helen, hilary]", "[hilary, holly, hugo]"));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].path).toBe("clients[1].hubs");
    expect(e.issues[0].message).toContain("clients carol and celia exchange keys but share 1 hub (hilary); expected at least 3");
    expect(e.issues[0].line).toBe(12);
  });

  it("refuses a client's min_nr_shares above its hub count, and unknown or repeated hubs", () => {
    const e = rejected(`${FIVE_HUBS}clients:
  - name: carol
    hubs: [hank, helen]
    min_nr_shares: 3
  - name: celia
    hubs: [hank, hal, hank]
`);
    expect(e.issues.map((i) => i.path)).toEqual(["clients[0].min_nr_shares", "clients[1].hubs[1]", "clients[1].hubs[2]"]);
    expect(e.issues[0].message).toContain("client carol needs 3 shares but uses only 2 hubs (hank, helen)");
    expect(e.issues[1].message).toContain("unknown hub 'hal'");
    expect(e.issues[2].message).toContain("listed twice");
    // Without its own min_nr_shares, the top-level one applies and the fix says so.
    const top = rejected(`${FIVE_HUBS}clients:\n  - name: carol\n    hubs: [hank, helen]\n`);
    expect(top.issues[0].path).toBe("clients[0].hubs");
    expect(top.issues[0].message).toContain("(the top-level min_nr_shares)");
    expect(top.issues[0].message).toContain("set `min_nr_shares:` on the client");
  });
});

describe("placement: which nodes run on this machine", () => {
  const local = new Set(["10.77.0.11", "fd00::11", "hosta"]);

  it("matches loopback, this machine's addresses and names, and start --on values", () => {
    expect(isOnThisMachine("127.0.0.1", [], local)).toBe(true);
    expect(isOnThisMachine("localhost", [], local)).toBe(true);
    expect(isOnThisMachine("10.77.0.11", [], local)).toBe(true);
    expect(isOnThisMachine("[FD00::11]", [], local)).toBe(true);
    expect(isOnThisMachine("10.77.0.12", [], local)).toBe(false);
    expect(isOnThisMachine("kme.example", ["KME.example"], local)).toBe(true);
    // With --on, exactly the named hosts: 127.0.0.1 and localhost are then two hosts.
    expect(isOnThisMachine("127.0.0.1", ["localhost"], local)).toBe(false);
    expect(isLocal({ host: "localhost" }, ["localhost"])).toBe(true);
    expect(isLocal({}, ["localhost"])).toBe(false);
    expect(isLocal({ host: "10.77.0.12" }, [], local)).toBe(false);
    expect(isLocal({}, [], local)).toBe(true);
  });

  it("sees this machine's real interface addresses (loopback among them)", () => {
    const mine = localAddresses();
    expect(mine.has("127.0.0.1")).toBe(true);
    expect([...mine].every((a) => a === a.toLowerCase())).toBe(true);
  });

  it("knows loopback hosts and puts IPv6 literals in brackets", () => {
    expect(["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1"].every(isLoopbackHost)).toBe(true);
    expect(["10.0.0.1", "0.0.0.0", "::", "example.org"].some(isLoopbackHost)).toBe(false);
    expect(urlHost("fd00::1")).toBe("[fd00::1]");
    expect(urlHost("[fd00::1]")).toBe("[fd00::1]");
    expect(urlHost("hub.example")).toBe("hub.example");
  });
});

describe("server certificates name the nodes' hosts (SANs)", () => {
  const root = mkdtempSync(path.join(tmpdir(), "dske-hosts-certs-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const topology = new Topology(
    parseConfig(
      `hubs:
  - name: hank
    host: hank.example
    listen: 10.77.0.11
  - name: helen
    host: fd00::12
clients:
  - name: carol
    host: 10.77.0.21
    listen: 0.0.0.0
    encryptors: [{name: sam}]
min_nr_shares: 2
`,
      "hosts.yaml",
    ),
  );

  it("lists host, listen address unless a wildcard, 127.0.0.1, localhost and the extras, once each", () => {
    expect(serverSans({ host: "carol.example", listen: "0.0.0.0" }, ["vpn.example", "localhost"])).toEqual([
      "carol.example",
      "127.0.0.1",
      "localhost",
      "vpn.example",
    ]);
  });

  it("issues hub and client certificates with those SANs (read by openssl), and reissues them when the SANs change", async () => {
    const layout = certLayout(root);
    const opts = {
      clients: ["carol"],
      hubs: ["hank", "helen"],
      saes: ["sam"],
      sans: certSansFor(topology, root, ["kme.example.org"]),
    };
    await ensureCertificates(root, opts);
    const san = (file: string) => execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", file], { encoding: "utf8" });
    const hank = san(layout.hub("hank").cert);
    expect(hank).toContain("DNS:hank.example");
    expect(hank).toContain("IP Address:10.77.0.11");
    expect(hank).toContain("IP Address:127.0.0.1");
    expect(hank).toContain("DNS:localhost");
    expect(hank).toContain("DNS:kme.example.org");
    expect(new X509Certificate(readFileSync(layout.hub("helen").cert)).subjectAltName).toContain("IP Address:FD00:0:0:0:0:0:0:12");
    const carol = san(layout.client("carol").cert);
    expect(carol).toContain("IP Address:10.77.0.21");
    expect(carol).not.toContain("0.0.0.0");
    // Same SANs: kept; new SANs: reissued with the same CA.
    const again = await ensureCertificates(root, opts);
    expect(again.created).toEqual([]);
    const changed = await ensureCertificates(root, { ...opts, sans: certSansFor(topology, root, []) });
    expect(changed.created.sort()).toEqual([layout.client("carol").cert, layout.hub("hank").cert, layout.hub("helen").cert].sort());
    expect(san(layout.hub("hank").cert)).not.toContain("kme.example.org");
  });
});
