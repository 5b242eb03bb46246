/**
 * A small DSKE network of REAL node processes (the built dske-hub / dske-client servers, spawned
 * directly, one log file per node) with an in-process recording proxy in front of every hub: the
 * clients are given the proxies' URLs, so a test sees (and can hold, swap or replay) every
 * message a client sends to a hub. Hubs can be given test-only faults (DSKE_TEST_FAULTS, see
 * packages/dske-hub/src/testing/faults.ts): they run the hub's test server (dist/test-server.js,
 * the standalone hub with fault injection; the dske-hub binary has none), and can be restarted.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import axios, { type AxiosInstance } from "axios";
import { blockKeyPrefix, parseSignatureHeader, type AuthSchemeName } from "@dske/auth";
import { readAuditLog, type AuditRecord } from "@dske/psrd";
import { defaultServerScript } from "../../src/node-command";
import { sleep } from "./chaos-util";
import { defined } from "../defined";

/** The built script of a node: hubs with a fault file run the hub's test-only server. */
/** The process has neither exited nor been killed by a signal (yet). */
function isRunning(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

function nodeScript(n: RealNode): string {
  const script = defaultServerScript(n.kind);
  return n.kind === "hub" && n.faultsFile !== undefined ? path.join(path.dirname(script), "test-server.js") : script;
}

/** One HTTP exchange through a proxy. */
export interface Exchange {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  status: number;
  resHeaders: Record<string, string>;
  resBody: Buffer;
}

/** What the proxy does with one request. `forward` by default. */
export type ProxyAction = "forward" | "hold";

export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  /** Requests the proxy did not forward (answered 502): genuine, signed, never seen by the hub. */
  readonly held: Omit<Exchange, "status" | "resHeaders" | "resBody">[] = [];
  /** Decide per request (default: forward everything). */
  decide: (method: string, url: string, body: Buffer) => ProxyAction = () => "forward";
  /** When set, the next two in-band responses that overlap in time are swapped (then it clears). */
  swapNext = false;
  swapped = 0;
  /** Requests received and not answered yet. */
  inFlight = 0;
  private waiting:
    { url: string; deliver: (status: number, headers: Record<string, string>, body: Buffer) => void; own: Exchange } | undefined;
  private server: http.Server | undefined;
  port = 0;

  constructor(private readonly target: () => number) {}

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req, res, Buffer.concat(chunks)));
    });
    this.server = server;
    server.keepAliveTimeout = 1000;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.port = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    this.inFlight++;
    res.once("close", () => this.inFlight--);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (this.decide(method, url, body) === "hold") {
      this.held.push({ method, url, headers, body });
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ message: "held by the test proxy" }));
      return;
    }
    let out: { status: number; headers: Record<string, string>; body: Buffer };
    try {
      out = await forward(this.target(), method, url, headers, body);
    } catch (err) {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ message: `proxy: hub unreachable: ${String(err)}` }));
      return;
    }
    const ex: Exchange = { method, url, headers, body, status: out.status, resHeaders: out.headers, resBody: out.body };
    this.exchanges.push(ex);
    const deliver = (status: number, h: Record<string, string>, b: Buffer) => {
      const hh = { ...h };
      delete hh["content-length"];
      delete hh["transfer-encoding"];
      delete hh.connection;
      delete hh["keep-alive"];
      res.writeHead(status, { ...hh, "content-length": String(b.length) }).end(b);
    };
    if (this.swapNext && url.includes("/dske/api/") && out.status === 200) {
      if (this.waiting === undefined) {
        const w = { url, deliver, own: ex };
        this.waiting = w;
        // If no second response comes within 3 s, deliver this one unchanged.
        setTimeout(() => {
          if (this.waiting === w) {
            this.waiting = undefined;
            deliver(out.status, out.headers, out.body);
          }
        }, 3000).unref();
        return;
      }
      const first = this.waiting;
      this.waiting = undefined;
      this.swapNext = false;
      this.swapped++;
      // Each client connection gets the other request's (genuine, hub-signed) response.
      first.deliver(out.status, out.headers, out.body);
      deliver(first.own.status, first.own.resHeaders, first.own.resBody);
      return;
    }
    deliver(out.status, out.headers, out.body);
  }
}

/** Send a request to 127.0.0.1:port verbatim (no keep-alive), return the raw answer. */
export function forward(
  port: number,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers, host: `127.0.0.1:${port}`, connection: "close" };
    if (body.length > 0 || method === "POST" || method === "PUT") h["content-length"] = String(body.length);
    const req = http.request({ host: "127.0.0.1", port, method, path: url, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const rh: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") rh[k] = v;
        resolve({ status: res.statusCode ?? 0, headers: rh, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(20_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

export interface RealNode {
  kind: "hub" | "client";
  name: string;
  port: number;
  encryptors: string[];
  proc?: ChildProcess;
  env: Record<string, string>;
  /** Test fault file of a hub (DSKE_TEST_FAULTS). */
  faultsFile?: string;
  /** Extra command-line arguments of this node. */
  extraArgs?: string[];
}

export interface RealNetOptions {
  basePort: number;
  hubs: string[];
  clients: { name: string; encryptors: string[] }[];
  k: number;
  /** `--auth-schemes` of hubs and clients, as dske-cli passes allowed_auth_schemes (default [gf128]). */
  authSchemes?: AuthSchemeName[];
  /** Extra client arguments (e.g. PSRD thresholds). */
  clientArgs?: string[];
}

export class RealNet {
  readonly dir: string;
  readonly nodes: RealNode[];
  readonly proxies = new Map<string, RecordingProxy>();
  readonly http: AxiosInstance;
  /** The operator token of this network's nodes (management routes and /metrics). */
  readonly operatorToken = randomBytes(32).toString("hex");
  readonly operatorTokenFile: string;

  constructor(readonly opts: RealNetOptions) {
    this.dir = mkdtempSync(path.join(tmpdir(), `dske-real-${opts.basePort}-`));
    this.operatorTokenFile = path.join(this.dir, "operator-token");
    writeFileSync(this.operatorTokenFile, `${this.operatorToken}\n`, { mode: 0o600 });
    const nh = opts.hubs.length;
    this.nodes = [
      ...opts.hubs.map((name, i) => ({ kind: "hub" as const, name, port: opts.basePort + i, encryptors: [], env: {} })),
      ...opts.clients.map((c, j) => ({
        kind: "client" as const,
        name: c.name,
        port: opts.basePort + nh + j,
        encryptors: c.encryptors,
        env: {},
      })),
    ];
    for (const h of this.hubs) {
      h.faultsFile = path.join(this.dir, `faults-${h.name}.json`);
      writeFileSync(h.faultsFile, "{}");
      h.env.DSKE_TEST_FAULTS = h.faultsFile;
    }
    this.http = axios.create({
      proxy: false,
      validateStatus: () => true,
      timeout: 30_000,
      httpAgent: new http.Agent({ keepAlive: false }),
    });
  }

  get hubs(): RealNode[] {
    return this.nodes.filter((n) => n.kind === "hub");
  }
  get clients(): RealNode[] {
    return this.nodes.filter((n) => n.kind === "client");
  }
  node(name: string): RealNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }
  proxy(hub: string): RecordingProxy {
    const p = this.proxies.get(hub);
    if (!p) throw new Error(`no proxy for ${hub}`);
    return p;
  }
  baseUrl(name: string): string {
    const n = this.node(name);
    return `http://127.0.0.1:${n.port}/${n.kind}/${n.name}`;
  }
  get distributionPlanFile(): string {
    return path.join(this.dir, "distribution.json");
  }
  /** Where client `name` picks up PSRD bundles. */
  inboxOf(name: string): string {
    return path.join(this.dir, "nodes", name, "inbox");
  }

  /**
   * Provision a client the hubs' distributors do not serve (e.g. one added later) by hand, as an
   * operator would: each hub issues a first bundle, which is moved into the client's inbox.
   */
  async provisionByHand(client: string, options: { authScheme?: string } = {}): Promise<void> {
    mkdirSync(this.inboxOf(client), { recursive: true });
    for (const h of this.hubs) {
      const r = await this.http.post(
        `${this.baseUrl(h.name)}/mgmt/v1/psrd-bundles`,
        {
          client_name: client,
          client_owned_bytes: 65536,
          hub_owned_bytes: 65536,
          ...(options.authScheme ? { auth_scheme: options.authScheme } : {}),
        },
        { headers: { Authorization: `Bearer ${this.operatorToken}`, "Content-Type": "application/json" } },
      );
      if (r.status !== 200)
        throw new Error(`hub ${h.name} did not issue a bundle for ${client}: HTTP ${r.status} ${JSON.stringify(r.data)}`);
      const file = (r.data as { file: string }).file;
      renameSync(file, path.join(this.inboxOf(client), path.basename(file)));
    }
  }

  logOf(name: string): string {
    try {
      return readFileSync(path.join(this.dir, `${name}.log`), "utf8");
    } catch {
      return "";
    }
  }

  async start(): Promise<void> {
    for (const h of this.hubs) {
      const p = new RecordingProxy(() => h.port);
      await p.listen();
      this.proxies.set(h.name, p);
    }
    writeFileSync(
      path.join(this.dir, "kme-directory.json"),
      JSON.stringify(Object.fromEntries(this.clients.flatMap((c) => c.encryptors.map((e) => [e, c.name])))),
    );
    // The hubs' local distributors provision the clients by bundle (as dske-cli start does).
    writeFileSync(
      this.distributionPlanFile,
      JSON.stringify({ clients: this.clients.map((c) => ({ name: c.name, url: this.baseUrl(c.name), inbox: this.inboxOf(c.name) })) }),
    );
    await Promise.all(this.hubs.map((h) => this.spawn(h)));
    await Promise.all(this.clients.map((c) => this.spawn(c)));
    await this.waitRegistered();
  }

  private get authSchemes(): string {
    return (this.opts.authSchemes ?? ["gf128"]).join(",");
  }

  private args(n: RealNode): string[] {
    const state = [
      "--port",
      String(n.port),
      "--state-dir",
      path.join(this.dir, "nodes", n.name),
      "--operator-token-file",
      this.operatorTokenFile,
    ];
    if (n.kind === "hub") {
      return [
        n.name,
        ...state,
        "--host",
        "127.0.0.1",
        "--share-timeout-secs",
        "600",
        "--auth-schemes",
        this.authSchemes,
        "--distribution-plan",
        this.distributionPlanFile,
      ];
    }
    const hubUrls = this.hubs.map((h) => `http://127.0.0.1:${this.proxy(h.name).port}/hub/${h.name}`);
    return [
      n.name,
      ...state,
      "--hubs",
      ...hubUrls,
      ...(n.encryptors.length > 0 ? ["--encryptors", ...n.encryptors] : []),
      "--min-nr-shares",
      String(this.opts.k),
      "--kme-directory",
      path.join(this.dir, "kme-directory.json"),
      "--auth-schemes",
      this.authSchemes,
      // A request short of PSRD waits this long for a bundle (faults may stop the distributors).
      "--psrd-wait-ms",
      "1000",
      ...(this.opts.clientArgs ?? []),
      ...(n.extraArgs ?? []),
    ];
  }

  /** Forget a stopped node (it no longer counts in status, accounting and stop). */
  dropNode(name: string): void {
    const i = this.nodes.findIndex((n) => n.name === name);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  /** Start one more client process (not waiting for its registrations). */
  async addClient(name: string, encryptors: string[], extraArgs: string[]): Promise<RealNode> {
    const port = this.opts.basePort + this.nodes.length;
    const n: RealNode = { kind: "client", name, port, encryptors, env: {}, extraArgs };
    this.nodes.push(n);
    await this.spawn(n);
    return n;
  }

  /** Spawn a node and wait for its `listening` log line. */
  async spawn(n: RealNode): Promise<void> {
    const fd = openSync(path.join(this.dir, `${n.name}.log`), "a");
    const proc = spawn(process.execPath, [nodeScript(n), ...this.args(n)], {
      stdio: ["ignore", "pipe", fd],
      env: { ...process.env, ...n.env },
    });
    closeSync(fd);
    n.proc = proc;
    const stdout = defined(proc.stdout, `${n.name}'s stdout pipe`);
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${n.name} did not start: ${out}${this.logOf(n.name)}`)), 30_000);
      stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (/"msg":"listening"/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${n.name} exited (${code}) during startup: ${out}${this.logOf(n.name)}`));
      });
    });
    // Keep draining stdout (request log lines) into memory-free oblivion, but keep the log text.
    stdout.removeAllListeners("data");
    const log = openSync(path.join(this.dir, `${n.name}.log`), "a");
    stdout.on("data", (c: Buffer) => {
      try {
        writeFileSync(log, c);
      } catch {
        // log only
      }
    });
    proc.once("exit", () => closeSync(log));
  }

  /** Stop a node gracefully (SIGTERM) and wait for it to exit. */
  async stopNode(name: string): Promise<void> {
    const n = this.node(name);
    const p = n.proc;
    if (!p || !isRunning(p)) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    if (isRunning(p)) {
      p.kill("SIGKILL");
      await exited;
    }
  }

  async stop(): Promise<void> {
    for (const c of this.clients) await this.stopNode(c.name);
    await Promise.all(this.hubs.map((h) => this.stopNode(h.name)));
    for (const p of this.proxies.values()) await p.close();
  }

  setFaults(hub: string, faults: { corrupt_shares?: number; refuse_psrd?: boolean; reference_hub?: boolean }): void {
    writeFileSync(defined(this.node(hub).faultsFile, `${hub}'s faults file`), JSON.stringify(faults));
  }

  async status(name: string): Promise<Record<string, unknown>> {
    const r = await this.http.get(`${this.baseUrl(name)}/mgmt/v1/status`, { headers: { Authorization: `Bearer ${this.operatorToken}` } });
    if (r.status !== 200) throw new Error(`${name} status: HTTP ${r.status}`);
    return r.data as Record<string, unknown>;
  }

  /** Every client registered with every hub, with PSRD in both pools. */
  async waitRegistered(ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const ok = await Promise.all(
        this.clients.map(async (c) => {
          try {
            const s = (await this.status(c.name)) as {
              peer_hubs: { registered: boolean; pools: { client_owned: { available: number }; hub_owned: { available: number } } }[];
            };
            return s.peer_hubs.every((h) => h.registered && h.pools.client_owned.available > 0 && h.pools.hub_owned.available > 0);
          } catch {
            return false;
          }
        }),
      );
      if (ok.every(Boolean)) return;
      if (Date.now() > until) throw new Error("clients did not register with every hub");
      await sleep(100);
    }
  }

  /**
   * PSRD consumption per pool of every node, from the management status (hubs: per peer client,
   * both pools; clients: per peer hub, both pools): used bytes minus the blocks' MAC key prefixes
   * (which a background replenishment adds without consuming anything).
   */
  async accounting(): Promise<Record<string, number>> {
    const scheme: AuthSchemeName = this.opts.authSchemes?.[0] ?? "gf128";
    const prefix = blockKeyPrefix(scheme);
    const out: Record<string, number> = {};
    type P = { used: number; blocks: number };
    for (const h of this.hubs) {
      const s = (await this.status(h.name)) as { peer_clients: { client_name: string; pools: Record<string, P> }[] };
      for (const c of s.peer_clients)
        for (const [k, p] of Object.entries(c.pools)) out[`${h.name}/${c.client_name}/${k}`] = p.used - prefix * p.blocks;
    }
    for (const c of this.clients) {
      const s = (await this.status(c.name)) as { peer_hubs: { hub_name: string; pools: Record<string, P> }[] };
      for (const h of s.peer_hubs)
        for (const [k, p] of Object.entries(h.pools)) out[`${c.name}/${h.hub_name}/${k}`] = p.used - prefix * p.blocks;
    }
    return out;
  }

  /**
   * Wait (on conditions, not on time) until the clients have no background work pending that
   * spends PSRD: every client registered with every hub, no share acknowledgement waiting to be
   * sent, no PSRD need stated or bundle block unconfirmed, no request in flight through a proxy,
   * and the pools' accounting the same on two reads in a row.
   */
  async quiesce(ms = 60_000): Promise<void> {
    type S = {
      peer_hubs: {
        registered: boolean;
        pending_acks: number;
        psrd: { unconfirmed_blocks: number; needs: { client_owned_bytes: number; hub_owned_bytes: number } };
      }[];
    };
    const idle = async () => {
      for (const c of this.clients) {
        const s = (await this.status(c.name)) as S;
        const busy = s.peer_hubs.some(
          (h) =>
            !h.registered ||
            h.pending_acks > 0 ||
            h.psrd.unconfirmed_blocks > 0 ||
            h.psrd.needs.client_owned_bytes > 0 ||
            h.psrd.needs.hub_owned_bytes > 0,
        );
        if (busy) return false;
      }
      return [...this.proxies.values()].every((p) => p.inFlight === 0);
    };
    const until = Date.now() + ms;
    let last = "";
    for (;;) {
      if (await idle()) {
        const now = JSON.stringify(await this.accounting());
        if (now === last) return;
        last = now;
      } else last = "";
      if (Date.now() > until) throw new Error("the clients' background work (acks, PSRD bundles, registrations) did not settle");
      await sleep(20);
    }
  }

  /** A node's PSRD audit log (psrd/src/audit.ts: one record per consumed fragment, with its purpose). */
  auditOf(name: string): Promise<AuditRecord[]> {
    return readAuditLog(path.join(this.dir, "nodes", name, "psrd-audit.jsonl"));
  }

  /** Start of a measured window: how far each hub's audit log and each proxy's recording went. */
  async mark(): Promise<PsrdMark> {
    const audit: Record<string, number> = {};
    const exchanges: Record<string, number> = {};
    for (const h of this.hubs) {
      audit[h.name] = (await this.auditOf(h.name)).length;
      exchanges[h.name] = this.proxy(h.name).exchanges.length;
    }
    return { audit, exchanges };
  }

  /**
   * PSRD the hubs consumed since `mark` that the clients' own (background) traffic does not
   * explain, and every consumption of PSRD named by `underTest` (requests sent to the hubs directly,
   * bypassing the proxies). Background traffic goes through the proxies: a hub's consumption for
   * it is explained when (a) a request verification took exactly the signature allocation of a
   * request the proxy forwarded and the hub accepted in the window, or (b) it is in a pool of a
   * client that had such a request with that hub in the window (its decryption, response
   * signature, PSRD confirmation). Everything else was spent on something else: the requests
   * under test. Waits for the proxies to have no request in flight first.
   */
  async unexplainedConsumption(mark: PsrdMark, underTest: readonly SentRequest[]): Promise<string[]> {
    for (let i = 0; [...this.proxies.values()].some((p) => p.inFlight > 0); i++) {
      if (i > 3000) throw new Error("a proxied request did not finish");
      await sleep(20);
    }
    const frag = (f: { block_uuid: string; start: number; size: number }) => `${f.block_uuid}:${f.start}:${f.size}`;
    const clientOf = (pool: string) => pool.slice(pool.indexOf(".") + 1);
    const out: string[] = [];
    for (const h of this.hubs) {
      const all = await this.auditOf(h.name);
      const fresh = all.slice(mark.audit[h.name]);
      const poolOfBlock = new Map(all.map((r) => [r.block_uuid, r.pool]));
      const background = this.proxy(h.name)
        .exchanges.slice(mark.exchanges[h.name])
        .filter((e) => e.status < 400 && e.headers["dske-signature"]);
      const signed = new Set<string>();
      const clients = new Set<string>();
      for (const e of background) {
        for (const f of signatureFragments(e)) {
          signed.add(frag(f));
          const pool = poolOfBlock.get(f.block_uuid);
          if (pool) clients.add(clientOf(pool));
        }
      }
      const named = underTest.filter((r) => hubOf(r.url) === h.name).flatMap(namedFragments);
      for (const r of fresh) {
        const what = `${h.name} ${r.op} ${r.pool} ${frag(r)} (${r.purpose})`;
        // A background request's own signature allocation: explained (a forged request may name
        // bytes the client signs with later).
        if (r.purpose.startsWith("verify request") && signed.has(frag(r))) continue;
        if (named.some((f) => f.block_uuid === r.block_uuid && r.start < f.start + f.size && f.start < r.start + r.size)) {
          out.push(`${what}: PSRD named by a request under test`);
        } else if (r.purpose.startsWith("verify request") || !clients.has(clientOf(r.pool))) {
          out.push(`${what}: no client request explains it`);
        }
      }
    }
    return out;
  }

  /** Every share the hubs hold, as "hub/master client/key ID". */
  async shareSet(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const h of this.hubs) {
      const s = (await this.status(h.name)) as { shares: { master_client_name: string; key_id: string }[] };
      for (const x of s.shares) out.add(`${h.name}/${x.master_client_name}/${x.key_id}`);
    }
    return out;
  }

  // ---------------------------------------------------------------- ETSI

  async encKeys(master: string, slave: string, body: Record<string, unknown> = {}): Promise<{ status: number; data: unknown }> {
    const kme = defined(
      this.clients.find((c) => c.encryptors.includes(master)),
      `the KME of ${master}`,
    );
    const r = await this.http.post(`${this.baseUrl(kme.name)}/etsi/api/v1/keys/${slave}/enc_keys`, body, {
      headers: { Authorization: master },
    });
    return { status: r.status, data: r.data };
  }

  async decKeys(slave: string, master: string, ids: string[]): Promise<{ status: number; data: unknown }> {
    const kme = defined(
      this.clients.find((c) => c.encryptors.includes(slave)),
      `the KME of ${slave}`,
    );
    const r = await this.http.post(
      `${this.baseUrl(kme.name)}/etsi/api/v1/keys/${master}/dec_keys`,
      { key_IDs: ids.map((key_ID) => ({ key_ID })) },
      { headers: { Authorization: slave } },
    );
    return { status: r.status, data: r.data };
  }

  /** enc_keys then dec_keys; returns both key lists (throws on an HTTP error). */
  async keyPair(master: string, slave: string, body: Record<string, unknown> = {}): Promise<{ enc: EtsiKeyT[]; dec: EtsiKeyT[] }> {
    const e = await this.encKeys(master, slave, body);
    if (e.status !== 200) throw new Error(`enc_keys: HTTP ${e.status} ${JSON.stringify(e.data)}`);
    const enc = (e.data as { keys: EtsiKeyT[] }).keys;
    const d = await this.decKeys(
      slave,
      master,
      enc.map((k) => k.key_ID),
    );
    if (d.status !== 200) throw new Error(`dec_keys: HTTP ${d.status} ${JSON.stringify(d.data)}`);
    return { enc, dec: (d.data as { keys: EtsiKeyT[] }).keys };
  }
}

export interface EtsiKeyT {
  key_ID: string;
  key: string;
}

/** How far the hubs' audit logs and the proxies' recordings went at the start of a window. */
export interface PsrdMark {
  audit: Record<string, number>;
  exchanges: Record<string, number>;
}

/** A request as sent to a hub (path with the /hub/NAME prefix). */
export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The hub a request goes to (from its path /hub/NAME/...). */
export const hubOf = (url: string): string => /^\/hub\/([^/]+)\//.exec(url)?.[1] ?? "";

type WireFragment = { block_uuid: string; start: number; size: number };

/** The fragments of a request's DSKE-Signature allocation (none if it has no readable one). */
function signatureFragments(r: SentRequest): WireFragment[] {
  try {
    return parseSignatureHeader(r.headers["dske-signature"]).allocation.fragments.map((f) => ({
      block_uuid: f.blockUuid,
      start: f.start,
      size: f.size,
    }));
  } catch {
    return [];
  }
}

/** Every PSRD fragment a request names: its signature allocation and those in its JSON body (share pads). */
export function namedFragments(r: SentRequest): WireFragment[] {
  const out = signatureFragments(r);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (typeof o.block_uuid === "string" && typeof o.start === "number" && typeof o.size === "number") {
        out.push({ block_uuid: o.block_uuid, start: o.start, size: o.size });
      }
      Object.values(o).forEach(walk);
    }
  };
  try {
    walk(JSON.parse(r.body.toString("utf8")) as unknown);
  } catch {
    // not JSON (a GET, or a tampered body): the signature allocation is all it names
  }
  return out;
}
