/**
 * The default DSKE topology (5 hubs, 5 clients, k = 3) spread over a netns lab: one namespace per
 * node, each with its own address, plus one namespace for an encryptor. Driven by the built
 * `dske-cli`, run inside each namespace with one topology YAML naming every node's place:
 *   - hubs by DNS name (`hank.dske.test`, listening on their address), so clients verify hub
 *     certificates by name; each namespace resolves the names through its own hosts file;
 *   - clients by address (start finds its node by address match), except carol, which is reached
 *     by name (the encryptor calls it so);
 *   - connie uses a subset of the hubs (helen, hilary, holly).
 * The hosts share one state directory: the root README's "shared file system" case (`certs` run
 * once, its certificates and operator token seen by every host, PSRD bundles moved by the hubs'
 * local distributors into the clients' inboxes).
 * Every client → hub link goes through a DelayRelay in the test's namespace (DNAT in the client's
 * namespace, see netns-nft.ts), with no delay until a test sets one.
 * Diagnostics: DSKE_NETNS_KEEP=1 keeps the temporary directory (YAML, state, node logs);
 * DSKE_NETNS_NO_RELAY=1 leaves the client → hub links direct (no relay, so no delay either).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import axios, { type AxiosInstance } from "axios";
import { certLayout, readTlsMaterial } from "../../src/certs";
import { DelayRelay } from "./delay-relay";
import { NetnsLab, type ExecResult } from "./netns-lab";
import { NetPolicies } from "./netns-nft";

/** The repository root: the nearest directory up from the working directory with pnpm-workspace.yaml (jest runs from the root, the bench from packages/dske-cli; this file is loaded both as CommonJS and as ESM). */
export const REPO_ROOT = ((): string => {
  for (let d = process.cwd(); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, "pnpm-workspace.yaml"))) return d;
    if (path.dirname(d) === d) throw new Error("netns topology: run from inside the repository (no pnpm-workspace.yaml found)");
  }
})();
export const BIN = path.join(REPO_ROOT, "packages/dske-cli/dist/bin.js");

export const HUBS = ["hank", "helen", "hilary", "holly", "hugo"] as const;
export const CLIENTS = ["carol", "celia", "cindy", "connie", "curtis"] as const;
/** SAE → its client (the default topology's encryptors). */
export const SAES: Record<string, string> = { sam: "carol", serena: "celia", sofia: "connie", sunny: "curtis", susan: "curtis" };
export const SUBSET_CLIENT = "connie";
export const SUBSET_HUBS = ["helen", "hilary", "holly"] as const;
/** The namespace of the encryptor that calls carol by name. */
export const ENCRYPTOR_HOST = "sam-encryptor";
export const DOMAIN = "dske.test";
export const HUB_PORT = 8100;
export const CLIENT_PORT = 8200;

export interface EtsiKey {
  key_ID: string;
  key: string;
}

export interface HttpAnswer {
  status: number;
  data: unknown;
}

export const nameOf = (node: string): string => `${node}.${DOMAIN}`;

export class NetnsTopology {
  readonly dir = mkdtempSync(path.join(tmpdir(), "dske-netns-"));
  readonly configFile = path.join(this.dir, "dske-config.yaml");
  readonly stateDir = path.join(this.dir, "state");
  readonly policies: NetPolicies;
  /** The relay of every client → hub link, per hub. */
  readonly relays = new Map<string, DelayRelay>();
  readonly http: AxiosInstance = axios.create({ proxy: false, validateStatus: () => true, timeout: 60_000 });
  private readonly agents = new Map<string, https.Agent>();

  private constructor(readonly lab: NetnsLab) {
    this.policies = new NetPolicies(lab);
  }

  /** Build the lab, write the YAML and the hosts files, start the relays (nothing of DSKE runs yet). */
  static async create(): Promise<NetnsTopology> {
    const lab = await NetnsLab.create([...HUBS, ...CLIENTS, ENCRYPTOR_HOST]);
    const t = new NetnsTopology(lab);
    try {
      await t.prepare();
    } catch (err) {
      await t.destroy();
      throw err;
    }
    return t;
  }

  private async prepare(): Promise<void> {
    const lab = this.lab;
    writeFileSync(this.configFile, this.yaml());
    const names: Record<string, string> = {};
    for (const n of [...HUBS, "carol"]) names[nameOf(n)] = lab.addrOf(n);
    for (const n of [...HUBS, ...CLIENTS]) lab.setHosts(n, names);
    // The encryptor's host knows its KME by name, nothing else.
    lab.setHosts(ENCRYPTOR_HOST, { [nameOf("carol")]: lab.addrOf("carol") });
    for (const hub of HUBS) {
      const relay = new DelayRelay({ listenHost: lab.gateway, listenPort: 0, targetHost: lab.addrOf(hub), targetPort: HUB_PORT });
      await relay.start();
      this.relays.set(hub, relay);
    }
    const redirects = HUBS.map((hub) => ({ addr: lab.addrOf(hub), port: HUB_PORT, toAddr: lab.gateway, toPort: this.relay(hub).port }));
    if (process.env.DSKE_NETNS_NO_RELAY !== "1") for (const c of CLIENTS) await this.policies.update(c, { redirects });
  }

  /** The topology YAML: the default topology's nodes, each placed in its namespace. */
  yaml(): string {
    const lab = this.lab;
    const lines = ["# The default topology spread over network namespaces (netns tests).", "min_nr_shares: 3", "tls: true", "hubs:"];
    for (const h of HUBS) lines.push(`  - name: ${h}`, `    host: ${nameOf(h)}`, `    listen: ${lab.addrOf(h)}`, `    port: ${HUB_PORT}`);
    lines.push("clients:");
    for (const c of CLIENTS) {
      lines.push(`  - name: ${c}`);
      if (c === "carol") lines.push(`    host: ${nameOf(c)}`, `    listen: ${lab.addrOf(c)}`);
      else lines.push(`    host: ${lab.addrOf(c)}`);
      lines.push(`    port: ${CLIENT_PORT}`);
      if (c === SUBSET_CLIENT) lines.push(`    hubs: [${SUBSET_HUBS.join(", ")}]`);
      const saes = Object.keys(SAES).filter((s) => SAES[s] === c);
      if (saes.length > 0) lines.push("    encryptors:", ...saes.map((s) => `      - name: ${s}`));
    }
    return `${lines.join("\n")}\n`;
  }

  relay(hub: string): DelayRelay {
    const r = this.relays.get(hub);
    if (r === undefined) throw new Error(`no relay for hub ${hub}`);
    return r;
  }

  /** The real `dske-cli` (built bin) run inside `host`'s namespace on this topology. */
  cli(host: string, ...args: string[]): Promise<ExecResult> {
    return this.lab.exec(host, process.execPath, [BIN, "--config", this.configFile, "--state-dir", this.stateDir, ...args], {
      timeoutMs: 120_000,
    });
  }

  /** `dske-cli` in `host`'s namespace, throwing with its output when it fails. */
  async mustCli(host: string, ...args: string[]): Promise<string> {
    const r = await this.cli(host, ...args);
    if (r.code !== 0) throw new Error(`[${host}] dske-cli ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** `dske-cli start` on a node's host: hubs named by `--on` (their host is a name), clients by address. */
  startOn(node: string): Promise<string> {
    return node === "carol" || (HUBS as readonly string[]).includes(node)
      ? this.mustCli(node, "start", "--on", nameOf(node))
      : this.mustCli(node, "start");
  }

  /**
   * Certificates, then every hub (the first alone: it creates the operator token), then every
   * client, each by `dske-cli start` on its own host. Returns what each start printed.
   */
  async startAll(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await this.mustCli(HUBS[0], "certs");
    out.set(HUBS[0], await this.startOn(HUBS[0]));
    for (const group of [HUBS.slice(1), CLIENTS]) {
      const started = await Promise.all(group.map(async (n) => [n, await this.startOn(n)] as const));
      for (const [n, o] of started) out.set(n, o);
    }
    return out;
  }

  /** Resolves the lab's names from the test's namespace (whose /etc/hosts is the machine's). */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    const known = new Map([...HUBS, ...CLIENTS].map((n) => [nameOf(n), this.lab.addrOf(n)]));
    const addr = known.get(hostname) ?? (/^\d+\.\d+\.\d+\.\d+$/.test(hostname) ? hostname : undefined);
    if (addr === undefined) {
      callback(Object.assign(new Error(`netns lab: unknown host ${hostname}`), { code: "ENOTFOUND" }), "", 4);
      return;
    }
    if (options.all === true) callback(null, [{ address: addr, family: 4 }]);
    else callback(null, addr, 4);
  };

  /** An https agent trusting the topology CA, presenting an SAE's (or the operator's) certificate, or none. */
  agent(identity: string, kind: "sae" | "operator" | "anonymous" = "sae"): https.Agent {
    const key = `${kind}:${identity}`;
    let a = this.agents.get(key);
    if (a === undefined) {
      const layout = certLayout(this.stateDir);
      if (kind === "anonymous") {
        a = new https.Agent({ keepAlive: false, ca: readFileSync(layout.caCert), lookup: this.lookup });
      } else {
        const m = readTlsMaterial(layout, kind === "sae" ? layout.sae(identity) : layout.operator);
        a = new https.Agent({ keepAlive: true, ca: m.ca, cert: m.cert, key: m.key, lookup: this.lookup });
      }
      this.agents.set(key, a);
    }
    return a;
  }

  /** Base URL of a client's ETSI API as its peers see it (carol by name, the others by address). */
  clientUrl(client: string): string {
    const host = client === "carol" ? nameOf(client) : this.lab.addrOf(client);
    return `https://${host}:${CLIENT_PORT}/client/${client}`;
  }

  /** POST an ETSI route on `sae`'s KME as `sae` (mutual TLS with its certificate). */
  async etsi(sae: string, peer: string, what: "enc_keys" | "dec_keys", body: unknown, timeoutMs = 60_000): Promise<HttpAnswer> {
    const kme = SAES[sae];
    const url = `${this.clientUrl(kme)}/etsi/api/v1/keys/${encodeURIComponent(peer)}/${what}`;
    try {
      const r = await this.http.post(url, body, { httpsAgent: this.agent(sae), timeout: timeoutMs });
      return { status: r.status, data: r.data };
    } catch (err) {
      // A KME that refuses connections is down: say what its log last said (why it stopped).
      if ((err as { code?: string }).code !== "ECONNREFUSED") throw err;
      throw new Error(`${kme} refused the connection (${url}); the last lines of its log:\n${this.logTail(kme, 40)}`, { cause: err });
    }
  }

  /** The last `lines` lines of a node's log file (in the shared state dir). */
  logTail(node: string, lines: number): string {
    const file = path.join(this.stateDir, "logs", `${node}.log`);
    if (!existsSync(file)) return `(no log file ${file})`;
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** A key pair master → slave (enc_keys, then dec_keys on the slave's KME); throws on an HTTP error. */
  async keyPair(master: string, slave: string, number = 1): Promise<{ enc: EtsiKey[]; dec: EtsiKey[] }> {
    const e = await this.etsi(master, slave, "enc_keys", { number });
    if (e.status !== 200) throw new Error(`enc_keys ${master}->${slave}: HTTP ${e.status} ${JSON.stringify(e.data)}`);
    const enc = (e.data as { keys: EtsiKey[] }).keys;
    const d = await this.etsi(slave, master, "dec_keys", { key_IDs: enc.map((k) => ({ key_ID: k.key_ID })) });
    if (d.status !== 200) throw new Error(`dec_keys ${master}->${slave}: HTTP ${d.status} ${JSON.stringify(d.data)}`);
    return { enc, dec: (d.data as { keys: EtsiKey[] }).keys };
  }

  /** Partition hubs: each isolated in its namespace, and every client drops packets to it and its relay. */
  async partition(hubs: readonly string[]): Promise<void> {
    for (const h of HUBS) await this.policies.update(h, { isolated: hubs.includes(h) });
    const blocked = hubs.map((h) => this.lab.addrOf(h));
    const blockedPorts = hubs.map((h) => ({ addr: this.lab.gateway, port: this.relay(h).port }));
    for (const c of CLIENTS) await this.policies.update(c, { blocked, blockedPorts });
  }

  /** Every partition lifted (relays and loss settings stay). */
  heal(): Promise<void> {
    return this.partition([]);
  }

  /** `percent` % random loss on every packet every node sends. */
  async loss(percent: number): Promise<void> {
    for (const n of [...HUBS, ...CLIENTS]) await this.policies.update(n, { lossPercent: percent });
  }

  /** Everything stopped and removed: relays, every process in the namespaces, the lab. */
  async destroy(): Promise<void> {
    for (const a of this.agents.values()) a.destroy();
    for (const r of this.relays.values()) await r.close();
    await this.lab.destroy();
    // DSKE_NETNS_KEEP=1 keeps the YAML, state and node logs for a look after a failure.
    if (process.env.DSKE_NETNS_KEEP === "1") process.stdout.write(`netns: kept ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}
