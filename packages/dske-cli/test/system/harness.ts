/**
 * System-test harness: a copy of the repository's default topology on its own base port and a
 * temp state dir, the CLI run in-process (runCli, captured output) spawning the BUILT node
 * servers (packages/dske-hub|dske-client/dist/server.js), and plain HTTP helpers for ETSI calls.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import axios, { type AxiosInstance } from "axios";
import { runCli } from "../../src/cli";
import { CapturedOutput } from "../../src/output";
import { certLayout, readTlsMaterial, tlsEnabled } from "../../src/certs";
import { probeNode, type OperatorCredential } from "../../src/mgmt";
import { readOperatorToken } from "../../src/operator-token";
import { loadConfig } from "../../src/config";
import { nodeBaseUrl, Topology, type NodeSpec } from "../../src/topology";

export const REPO_ROOT = path.resolve(__dirname, "../../../..");
export const BIN = path.join(REPO_ROOT, "packages/dske-cli/dist/bin.js");

export interface CliResult {
  code: number;
  out: string[];
  stdout: string;
  stderr: string;
}

export class SystemTopology {
  readonly dir: string;
  readonly configFile: string;
  readonly stateDir: string;
  readonly topology: Topology;
  readonly http: AxiosInstance;

  /** `baseYaml`: the topology to start from (default: the repository's dske-config.yaml). */
  constructor(
    readonly basePort: number,
    overrides: Record<string, string | number> = {},
    baseYaml?: string,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), `dske-sys-${basePort}-`));
    this.configFile = path.join(this.dir, "dske-config.yaml");
    this.stateDir = path.join(this.dir, "state");
    let yaml = baseYaml ?? readFileSync(path.join(REPO_ROOT, "dske-config.yaml"), "utf8");
    const set = (key: string, value: string | number) => {
      const re = new RegExp(`^${key}:.*$`, "m");
      yaml = re.test(yaml) ? yaml.replace(re, `${key}: ${value}`) : `${key}: ${value}\n${yaml}`;
    };
    set("base_port", basePort);
    for (const [k, v] of Object.entries(overrides)) set(k, v);
    writeFileSync(this.configFile, yaml);
    this.topology = new Topology(loadConfig(this.configFile));
    this.http = axios.create({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      proxy: false,
      validateStatus: () => true,
      timeout: 60_000,
    });
  }

  /** Run dske-cli in-process with --config and --state-dir of this topology. */
  async cli(...args: string[]): Promise<CliResult> {
    const out = new CapturedOutput();
    const code = await runCli(["--config", this.configFile, "--state-dir", this.stateDir, ...args], { out });
    return { code, out: out.lines, stdout: out.stdout, stderr: out.stderr };
  }

  /**
   * A node's command line as its process got it: its own process's, or, in a node host
   * (`processes: shared`), the host's followed by the node's arguments from the host's spec file.
   */
  nodeArgv(name: string): string[] {
    const pid = Number.parseInt(readFileSync(path.join(this.stateDir, "pids", `${name}.pid`), "utf8").trim(), 10);
    // A node host started as a standby shows its title, one string with spaces (standby-host.ts).
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split(/[\0 ]/)
      .filter((a) => a !== "");
    const host = argv.findIndex((a) => a.endsWith("node-host.js"));
    if (host < 0) return argv;
    const spec = JSON.parse(readFileSync(argv[host + 1], "utf8")) as { nodes: { name: string; args: string[] }[] };
    const node = spec.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`node ${name} is not in the node host's spec ${argv[host + 1]}`);
    return [...argv, ...node.args];
  }

  /** Run the built bin as a separate process (as a user does). */
  bin(...args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, "--config", this.configFile, "--state-dir", this.stateDir, ...args],
        { cwd: this.dir, timeout: 120_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, out: stdout.split("\n").filter((l) => l !== ""), stdout, stderr });
        },
      );
    });
  }

  node(name: string): NodeSpec {
    const n = this.topology.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  kmeOf(sae: string): NodeSpec {
    const c = this.topology.clientOfSae(sae);
    if (!c) throw new Error(`no client hosts ${sae}`);
    return c;
  }

  /** URL of an ETSI route on the client hosting `onSaeOf`'s KME. */
  etsiUrl(kme: NodeSpec, sae: string, what: "enc_keys" | "dec_keys" | "status"): string {
    return `${nodeBaseUrl(kme)}/etsi/api/v1/keys/${encodeURIComponent(sae)}/${what}`;
  }

  /** What dske-cli proves the operator with: the state dir's token (and the operator certificate under TLS). */
  credential(): OperatorCredential {
    const layout = certLayout(this.stateDir);
    return {
      token: readOperatorToken(this.stateDir),
      tls: tlsEnabled(this.stateDir) ? readTlsMaterial(layout, layout.operator) : undefined,
    };
  }

  /** `Authorization: Bearer <operator token>` (hubs and plain-HTTP clients). */
  operatorHeaders(): Record<string, string> {
    const token = readOperatorToken(this.stateDir);
    return token === undefined ? {} : { Authorization: `Bearer ${token}` };
  }

  async status(name: string): Promise<Record<string, unknown>> {
    const r = await probeNode(this.node(name), 5000, this.credential());
    if (r.state !== "up") throw new Error(`${name} is not up: ${r.detail}`);
    return r.status as Record<string, unknown>;
  }
}

export interface EtsiKey {
  key_ID: string;
  key: string;
}

/** Get key on the master's KME (POST body), then the same keys on each slave's KME; returns both sides. */
export async function keyPair(
  t: SystemTopology,
  master: string,
  slave: string,
  opts: { size?: number; number?: number; additional?: string[] } = {},
): Promise<{ enc: EtsiKey[]; dec: Record<string, EtsiKey[]> }> {
  const body: Record<string, unknown> = {};
  if (opts.size !== undefined) body.size = opts.size;
  if (opts.number !== undefined) body.number = opts.number;
  if (opts.additional) body.additional_slave_SAE_IDs = opts.additional;
  const enc = await t.http.post(t.etsiUrl(t.kmeOf(master), slave, "enc_keys"), body, { headers: { Authorization: master } });
  if (enc.status !== 200) throw new Error(`enc_keys ${master}->${slave}: HTTP ${enc.status} ${JSON.stringify(enc.data)}`);
  const keys = (enc.data as { keys: EtsiKey[] }).keys;
  const dec: Record<string, EtsiKey[]> = {};
  for (const s of [slave, ...(opts.additional ?? [])]) {
    const res = await t.http.post(
      t.etsiUrl(t.kmeOf(s), master, "dec_keys"),
      { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) },
      { headers: { Authorization: s } },
    );
    if (res.status !== 200) throw new Error(`dec_keys ${master}->${s}: HTTP ${res.status} ${JSON.stringify(res.data)}`);
    dec[s] = (res.data as { keys: EtsiKey[] }).keys;
  }
  return { enc: keys, dec };
}

/** A thrown value as text (an Error as "Error: message"). */
function thrownText(err: unknown): string {
  return String(err);
}

/** Poll `check` until it returns true (or throw after `ms`). */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000, every = 200): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${thrownText(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SYSTEM_TIMEOUT = 120_000;

/**
 * The shared fixture of the system tests: a topology on `basePort` (see SystemTopology), started
 * through the CLI before the file's tests (`dske-cli start`, plus `startArgs` such as `--tls`; a
 * failed start fails the file with the CLI's stderr) and stopped after them.
 */
export function runningTopology(
  basePort: number,
  overrides: Record<string, string | number> = {},
  opts: { startArgs?: string[]; beforeStart?: (t: SystemTopology) => void; afterStart?: (t: SystemTopology) => Promise<void> } = {},
): SystemTopology {
  const t = new SystemTopology(basePort, overrides);
  beforeAll(async () => {
    opts.beforeStart?.(t);
    const args = opts.startArgs ?? [];
    const r = await t.cli("start", ...args);
    if (r.code !== 0) throw new Error(`start ${args.join(" ")} failed: ${r.stderr}`);
    await opts.afterStart?.(t);
  }, SYSTEM_TIMEOUT);
  afterAll(async () => {
    await t.cli("stop");
  }, SYSTEM_TIMEOUT);
  return t;
}

/** Pids of standby hosts never handed over whose working directory is `dir` (the bin's, per topology). */
export function standbysIn(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!argv.some((a) => a.endsWith("node-host.js")) || !argv.includes("--standby")) continue;
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
